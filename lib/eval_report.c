/* Reports a person would rather look at than read: an SVG cost-quality chart with direct
 * labels (no legend lookup), and a self-contained HTML page built from the result JSON
 * (inline CSS and SVG, no external assets). */
#include "eval_internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* ---- small helpers ------------------------------------------------------------------- */

static void esc(rr_buf *b, const char *s) {
    for (; s && *s; s++) {
        switch (*s) {
        case '<':
            rr_buf_puts(b, "&lt;");
            break;
        case '>':
            rr_buf_puts(b, "&gt;");
            break;
        case '&':
            rr_buf_puts(b, "&amp;");
            break;
        case '"':
            rr_buf_puts(b, "&quot;");
            break;
        default:
            rr_buf_putc(b, *s);
        }
    }
}

/* A "nice" tick step (1, 2 or 5 times a power of ten) giving about `n` ticks. */
static double nice_step(double span, int n) {
    if (!(span > 0))
        return 1;
    double raw = span / n, p = pow(10, floor(log10(raw))), f = raw / p;
    return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * p;
}

static void fmt_usd(char *o, size_t cap, double v) {
    if (!isfinite(v))
        snprintf(o, cap, "n/a");
    else if (v == 0)
        snprintf(o, cap, "$0");
    else if (fabs(v) >= 1)
        snprintf(o, cap, "$%.2f", v);
    else { /* three significant digits, never in exponent form, no trailing zeros */
        snprintf(o, cap, "$%.*f", (int)fmin(12, fmax(2, 2 - floor(log10(fabs(v))))), v);
        size_t n = strlen(o);
        while (n > 3 && o[n - 1] == '0' && o[n - 2] != '.')
            o[--n] = 0;
    }
}

typedef struct box {
    double x0, y0, x1, y1;
} box;

static bool overlaps(const box *a, const box *b) {
    return a->x0 < b->x1 && b->x0 < a->x1 && a->y0 < b->y1 && b->y0 < a->y1;
}

/* Place a label near (x, y): right, left, above, below, then further out; the first spot
 * that stays inside the plot and clear of earlier labels and markers wins. */
static void place_label(rr_buf *b, box *placed, size_t *np, size_t cap, double x, double y,
                        const char *text, const char *cls, double W, double H) {
    double w = 6.6 * (double)strlen(text) + 4, h = 14;
    static const double dx[] = {12, -12, 0, 0, 12, -12, 12, -12, 0, 0};
    static const double dy[] = {4, 4, -10, 18, -12, -12, 20, 20, -26, 34};
    static const int anchor[] = {0, 2, 1, 1, 0, 2, 0, 2, 1, 1}; /* start, middle, end */
    size_t best = 0;
    box bb = {0, 0, 0, 0};
    for (size_t k = 0; k < RR_ARRAY_LEN(dx); k++) {
        double lx = x + dx[k], ly = y + dy[k];
        double x0 = anchor[k] == 0 ? lx : anchor[k] == 1 ? lx - w / 2 : lx - w;
        box c = {x0, ly - h + 3, x0 + w, ly + 3};
        bool ok = c.x0 >= 2 && c.x1 <= W - 2 && c.y0 >= 2 && c.y1 <= H - 2;
        for (size_t i = 0; ok && i < *np; i++)
            ok = !overlaps(&c, &placed[i]);
        if (ok || k == 0) {
            best = k;
            bb = c;
        }
        if (ok)
            break;
    }
    static const char *an[] = {"start", "middle", "end"};
    rr_buf_printf(b, "<text class=\"%s\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\">", cls,
                  x + dx[best], y + dy[best], an[anchor[best]]);
    esc(b, text);
    rr_buf_puts(b, "</text>\n");
    if (*np < cap)
        placed[(*np)++] = bb;
}

/* ---- the frontier chart --------------------------------------------------------------- */

static const char *const svg_style =
    "<style>text{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;fill:#1f2933}"
    ".t{font-size:15px;font-weight:600}.ax{font-size:12px;fill:#52606d}.tk{font-size:11px;"
    "fill:#7b8794}.lb{font-size:11.5px}.lbc{font-size:12px;font-weight:600;fill:#c2410c}"
    ".lbb{font-size:11.5px;fill:#334e68}.grid{stroke:#e4e7eb;stroke-width:1}"
    ".axis{stroke:#9aa5b1;stroke-width:1}</style>\n";

void rr_eval_svg_frontier(rr_buf *b, const char *title, const rr_plot_point *p, size_t n, double W,
                          double H) {
    double ml = 78, mr = 24, mt = 44, mb = 58;
    double cmin = INFINITY, cmax = -INFINITY, qmin = INFINITY, qmax = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(p[i].cost) || !isfinite(p[i].quality))
            continue;
        cmin = fmin(cmin, p[i].cost), cmax = fmax(cmax, p[i].cost);
        qmin = fmin(qmin, p[i].quality), qmax = fmax(qmax, p[i].quality);
    }
    if (!isfinite(cmin))
        cmin = 0, cmax = 1, qmin = 0, qmax = 1;
    double cspan = cmax - cmin > 0 ? cmax - cmin : fmax(cmax, 1e-6);
    double x0 = fmax(0, cmin - 0.08 * cspan), x1 = cmax + 0.08 * cspan;
    double qspan = qmax - qmin > 0.02 ? qmax - qmin : 0.02;
    double y0 = fmax(0, qmin - 0.12 * qspan), y1 = fmin(1, qmax + 0.12 * qspan);
    if (y1 <= y0)
        y1 = y0 + 0.02;
    double pw = W - ml - mr, ph = H - mt - mb;
#define PX(c) (ml + ((c)-x0) / (x1 - x0) * pw)
#define PY(q) (mt + (1 - ((q)-y0) / (y1 - y0)) * ph)
    rr_buf_printf(b,
                  "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
                  "viewBox=\"0 0 %.0f %.0f\" role=\"img\" aria-label=\"",
                  W, H, W, H);
    esc(b, title);
    rr_buf_puts(b, "\">\n");
    rr_buf_puts(b, svg_style);
    rr_buf_printf(b, "<rect width=\"%.0f\" height=\"%.0f\" fill=\"#fff\"/>\n", W, H);
    rr_buf_printf(b, "<text class=\"t\" x=\"%.0f\" y=\"24\">", ml);
    esc(b, title);
    rr_buf_puts(b, "</text>\n");
    /* Grid and ticks. */
    double cs = nice_step(x1 - x0, 6), qs = nice_step(y1 - y0, 5);
    for (double c = ceil(x0 / cs) * cs; c <= x1 + 1e-12; c += cs) {
        char t[32];
        fmt_usd(t, sizeof t, fabs(c) < cs * 1e-6 ? 0 : c);
        rr_buf_printf(b,
                      "<line class=\"grid\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/>"
                      "<text class=\"tk\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>\n",
                      PX(c), PX(c), mt, mt + ph, PX(c), mt + ph + 16, t);
    }
    for (double q = ceil(y0 / qs) * qs; q <= y1 + 1e-12; q += qs)
        rr_buf_printf(b,
                      "<line class=\"grid\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/>"
                      "<text class=\"tk\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%.*f</text>\n",
                      ml, ml + pw, PY(q), PY(q), ml - 6, PY(q) + 4, qs < 0.01 ? 3 : 2, q);
    rr_buf_printf(b,
                  "<line class=\"axis\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/>"
                  "<line class=\"axis\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/>\n",
                  ml, ml + pw, mt + ph, mt + ph, ml, ml, mt, mt + ph);
    rr_buf_printf(b,
                  "<text class=\"ax\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">Cost per "
                  "request (USD, mean over requests) &#8594;</text>\n",
                  ml + pw / 2, H - 14);
    rr_buf_printf(b,
                  "<text class=\"ax\" transform=\"translate(18 %.1f) rotate(-90)\" "
                  "text-anchor=\"middle\">Quality (mean score, 0&#8211;1) &#8594;</text>\n",
                  mt + ph / 2);
    box placed[64];
    size_t np = 0;
    /* The random router's line: mixing always-cheapest and always-premium. */
    const rr_plot_point *cheap = NULL, *prem = NULL;
    for (size_t i = 0; i < n; i++) {
        if (p[i].kind == 2 && p[i].label && !strcmp(p[i].label, "always cheapest"))
            cheap = &p[i];
        if (p[i].kind == 2 && p[i].label && !strcmp(p[i].label, "always premium"))
            prem = &p[i];
    }
    if (cheap && prem && isfinite(cheap->cost) && isfinite(prem->cost)) {
        rr_buf_printf(b,
                      "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#9aa5b1\" "
                      "stroke-width=\"1.5\" stroke-dasharray=\"5 4\"/>\n",
                      PX(cheap->cost), PY(cheap->quality), PX(prem->cost), PY(prem->quality));
        double mx = (PX(cheap->cost) + PX(prem->cost)) / 2,
               my = (PY(cheap->quality) + PY(prem->quality)) / 2;
        place_label(b, placed, &np, 64, mx, my, "random mix", "tk", W, H);
    }
    /* The sweep: a line through the points in threshold order. */
    bool first = true;
    for (size_t i = 0; i < n; i++) {
        if (p[i].kind > 1 || !isfinite(p[i].cost) || !isfinite(p[i].quality))
            continue;
        rr_buf_printf(b,
                      first ? "<polyline fill=\"none\" stroke=\"#2563eb\" stroke-width=\"2\" "
                              "points=\"%.1f,%.1f"
                            : " %.1f,%.1f",
                      PX(p[i].cost), PY(p[i].quality));
        first = false;
    }
    if (!first)
        rr_buf_puts(b, "\"/>\n");
    /* Markers first (their boxes reserve space), labels after. */
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(p[i].cost) || !isfinite(p[i].quality))
            continue;
        double x = PX(p[i].cost), y = PY(p[i].quality);
        switch (p[i].kind) {
        case 0:
            rr_buf_printf(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\" fill=\"#2563eb\"/>\n", x,
                          y);
            break;
        case 1:
            rr_buf_printf(
                b,
                "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"9\" fill=\"none\" stroke=\"#c2410c\" "
                "stroke-width=\"2.5\"/><circle cx=\"%.1f\" cy=\"%.1f\" r=\"4.5\" "
                "fill=\"#c2410c\"/>\n",
                x, y, x, y);
            break;
        case 2:
            rr_buf_printf(
                b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"9\" height=\"9\" fill=\"#52606d\"/>\n",
                x - 4.5, y - 4.5);
            break;
        default:
            rr_buf_printf(b, "<path d=\"M%.1f %.1fl6 10h-12z\" fill=\"#0f766e\"/>\n", x, y - 6);
        }
        if (np < 64)
            placed[np++] = (box){x - 6, y - 6, x + 6, y + 6};
    }
    size_t sweep = 0, every;
    for (size_t i = 0; i < n; i++)
        sweep += p[i].kind == 0;
    every = sweep > 8 ? (sweep + 7) / 8 : 1;
    size_t k = 0;
    for (int pass = 0; pass < 2; pass++) /* the chosen point and baselines claim room first */
        for (size_t i = 0; i < n; i++) {
            if (!isfinite(p[i].cost) || !isfinite(p[i].quality) || !p[i].label)
                continue;
            if ((pass == 0) != (p[i].kind != 0))
                continue;
            if (p[i].kind == 0 && (k++ % every) && i + 1 < n && p[i + 1].kind == 0)
                continue;
            place_label(b, placed, &np, 64, PX(p[i].cost), PY(p[i].quality), p[i].label,
                        p[i].kind == 1   ? "lbc"
                        : p[i].kind == 0 ? "lb"
                                         : "lbb",
                        W, H);
        }
    rr_buf_puts(b, "</svg>\n");
#undef PX
#undef PY
}

/* ---- the HTML report ------------------------------------------------------------------ */

static double num(const json_t *o, const char *path) {
    char tmp[128];
    snprintf(tmp, sizeof tmp, "%s", path);
    const json_t *v = o;
    for (char *s = tmp, *dot; v && s; s = dot ? dot + 1 : NULL) {
        dot = strchr(s, '.');
        if (dot)
            *dot = 0;
        v = json_object_get(v, s);
    }
    return json_is_number(v) ? json_number_value(v) : NAN;
}

static void pct(char *o, size_t cap, double v) {
    if (isfinite(v))
        snprintf(o, cap, "%.1f%%", 100 * v);
    else
        snprintf(o, cap, "&#8211;");
}

static void ms(char *o, size_t cap, double v) {
    if (!isfinite(v))
        snprintf(o, cap, "&#8211;");
    else if (v >= 10000)
        snprintf(o, cap, "%.1f s", v / 1000);
    else
        snprintf(o, cap, "%.0f ms", v);
}

static void card(rr_buf *b, const char *label, const char *value, const char *note) {
    rr_buf_printf(b,
                  "<div class=\"card\"><div class=\"lab\">%s</div><div class=\"val\">%s</div>"
                  "<div class=\"note\">%s</div></div>\n",
                  label, value, note);
}

static void cards(rr_buf *b, const json_t *o) {
    char v[64], n[256], t1[32], t2[32];
    snprintf(v, sizeof v, "%.3f", num(o, "quality"));
    snprintf(n, sizeof n, "always-premium %.3f &#183; oracle %.3f",
             num(o, "baselines.always_premium.quality"), num(o, "baselines.oracle.quality"));
    card(b, "Quality", v, n);
    fmt_usd(v, sizeof v, num(o, "cost_per_request_usd"));
    fmt_usd(t1, sizeof t1, num(o, "baselines.always_premium.cost_per_request_usd"));
    fmt_usd(t2, sizeof t2, num(o, "baselines.oracle.cost_per_request_usd"));
    snprintf(n, sizeof n, "per request &#183; always-premium %s &#183; oracle %s", t1, t2);
    card(b, "Cost", v, n);
    ms(v, sizeof v, num(o, "latency_ms.p95"));
    ms(t1, sizeof t1, num(o, "latency_ms.p50"));
    ms(t2, sizeof t2, num(o, "latency_ms.p99"));
    snprintf(n, sizeof n, "p95 &#183; p50 %s &#183; p99 %s", t1, t2);
    card(b, "Latency", v, n);
    pct(v, sizeof v, num(o, "escalation.rate"));
    pct(t1, sizeof t1, num(o, "escalation.precision"));
    pct(t2, sizeof t2, num(o, "escalation.recall"));
    snprintf(n, sizeof n, "precision %s &#183; recall %s", t1, t2);
    card(b, "Escalated", v, n);
    pct(v, sizeof v, num(o, "premium_share"));
    pct(t1, sizeof t1, num(o, "premium_overuse_rate"));
    snprintf(n, sizeof n, "answered by the top tier &#183; overuse %s", t1);
    card(b, "Premium share", v, n);
    pct(v, sizeof v, num(o, "human_review_rate"));
    pct(t1, sizeof t1, num(o, "false_cheap_route_rate"));
    snprintf(n, sizeof n, "sent to a person &#183; false cheap %s", t1);
    card(b, "Human review", v, n);
}

/* Horizontal bars of the final routes, longest first. */
static void route_bars(rr_buf *b, const json_t *o) {
    const json_t *fin = json_object_get(json_object_get(o, "routes"), "final");
    double total = num(o, "n");
    size_t n = json_object_size(fin);
    if (!n || !(total > 0))
        return;
    const char *names[64];
    double vals[64];
    size_t m = 0;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)fin, k, v) if (m < 64) names[m] = k,
                                                         vals[m++] = json_number_value(v);
    for (size_t i = 1; i < m; i++) /* insertion sort, descending */
        for (size_t j = i; j > 0 && vals[j] > vals[j - 1]; j--) {
            double tv = vals[j];
            vals[j] = vals[j - 1], vals[j - 1] = tv;
            const char *tn = names[j];
            names[j] = names[j - 1], names[j - 1] = tn;
        }
    double W = 720, row = 24, H = 36 + row * (double)m, lab = 210, bw = W - lab - 120;
    rr_buf_printf(b,
                  "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
                  "viewBox=\"0 0 %.0f %.0f\" role=\"img\" aria-label=\"Final routes\">\n%s"
                  "<text class=\"t\" x=\"0\" y=\"20\">Where requests ended (final route)</text>\n",
                  W, H, W, H, svg_style);
    for (size_t i = 0; i < m; i++) {
        double y = 34 + row * (double)i, w = bw * vals[i] / vals[0];
        rr_buf_printf(b, "<text class=\"lb\" x=\"%.0f\" y=\"%.1f\" text-anchor=\"end\">", lab - 8,
                      y + 13);
        esc(b, names[i]);
        rr_buf_printf(
            b,
            "</text><rect x=\"%.0f\" y=\"%.1f\" width=\"%.1f\" height=\"16\" rx=\"2\" "
            "fill=\"%s\"/><text class=\"tk\" x=\"%.1f\" y=\"%.1f\">%.0f (%.1f%%)</text>\n",
            lab, y + 2, fmax(w, 1), strstr(names[i], "human") ? "#c2410c" : "#2563eb",
            lab + fmax(w, 1) + 6, y + 14, vals[i], 100 * vals[i] / total);
    }
    rr_buf_puts(b, "</svg>\n");
}

static void family_row(rr_buf *b, const char *name, const json_t *g, bool bold) {
    char c[32], p50[32], p95[32], e[32], fc[32], po[32], h[32], ra[32];
    fmt_usd(c, sizeof c, num(g, "cost_per_request_usd"));
    ms(p50, sizeof p50, num(g, "latency_ms.p50"));
    ms(p95, sizeof p95, num(g, "latency_ms.p95"));
    pct(e, sizeof e, num(g, "escalation.rate"));
    pct(fc, sizeof fc, num(g, "false_cheap_route_rate"));
    pct(po, sizeof po, num(g, "premium_overuse_rate"));
    pct(h, sizeof h, num(g, "human_review_rate"));
    pct(ra, sizeof ra, num(g, "route_accuracy"));
    double q = num(g, "quality"), qp = num(g, "baselines.always_premium.quality");
    rr_buf_printf(b, "<tr%s><td>", bold ? " class=\"tot\"" : "");
    esc(b, name);
    rr_buf_printf(b,
                  "</td><td>%.0f</td><td><div class=\"qb\"><span style=\"width:%.0f%%\"></span>"
                  "</div>%.3f</td><td class=\"mut\">%.3f</td><td>%s</td><td>%s</td><td>%s</td>"
                  "<td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>\n",
                  num(g, "n"), isfinite(q) ? 100 * q : 0, q, qp, c, p50, p95, e, fc, po, h, ra);
}

static void research(rr_buf *b, const json_t *root) {
    const json_t *r = json_object_get(root, "research"), *p = json_object_get(r, "pair");
    rr_buf_puts(b, "<h2>Research metrics</h2><ul class=\"res\">");
    if (json_is_object(p)) {
        rr_buf_printf(b,
                      "<li>Weak (cheapest tier) quality <b>%.3f</b>, strong (top tier) "
                      "<b>%.3f</b> on %.0f requests with both outcomes.</li>",
                      num(p, "q_weak"), num(p, "q_strong"), num(p, "n"));
        rr_buf_printf(b,
                      "<li>This policy recovers <b>%.1f%%</b> of the gap (PGR) sending "
                      "%.1f%% of requests to the top tier.</li>",
                      100 * num(p, "policy_pgr"), 100 * num(p, "policy_premium_share"));
        rr_buf_printf(b,
                      "<li>RouteLLM APGR: random router <b>%.3f</b> (CPT50 %.1f%%, CPT80 "
                      "%.1f%%), oracle <b>%.3f</b> (CPT50 %.1f%%, CPT80 %.1f%%). A threshold "
                      "sweep (<code>rrctl sweep</code>) gives the policy's own APGR.</li>",
                      num(p, "random.apgr"), 100 * num(p, "random.cpt50"),
                      100 * num(p, "random.cpt80"), num(p, "oracle.apgr"),
                      100 * num(p, "oracle.cpt50"), 100 * num(p, "oracle.cpt80"));
    }
    rr_buf_printf(b,
                  "<li>RouterBench AIQ of the models' frontier (mixing fixed models): "
                  "<b>%.3f</b>.</li></ul>\n",
                  num(r, "aiq_models"));
}

static void problems(rr_buf *b, const json_t *root) {
    double mal = num(root, "malformed"), mis = num(root, "missing_outcome.total");
    if (!(mal > 0) && !(mis > 0))
        return;
    rr_buf_puts(b, "<div class=\"warn\"><b>Data problems.</b>");
    if (mal > 0)
        rr_buf_printf(b, " %.0f malformed line(s) skipped%s", mal, mis > 0 ? ";" : ".");
    if (mis > 0)
        rr_buf_printf(b, " %.0f record(s) left out for a missing outcome", mis);
    const json_t *by = json_object_get(json_object_get(root, "missing_outcome"), "by_route");
    const char *k;
    json_t *v;
    bool first = true;
    json_object_foreach((json_t *)by, k, v) {
        rr_buf_puts(b, first ? " (" : ", ");
        esc(b, k);
        rr_buf_printf(b, ": %.0f", json_number_value(v));
        first = false;
    }
    rr_buf_puts(b, first ? (mis > 0 ? ".</div>\n" : "</div>\n") : ").</div>\n");
}

static const char *const page_css =
    "body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#1f2933;"
    "margin:0;background:#f5f7fa}main{max-width:1040px;margin:0 auto;padding:28px 32px 48px}"
    "h1{font-size:22px;margin:0 0 4px}h2{font-size:16px;margin:28px 0 10px}"
    ".sub{color:#52606d;font-size:13px;margin-bottom:18px}.cards{display:grid;"
    "grid-template-columns:repeat(3,1fr);gap:12px}.card{background:#fff;border-radius:8px;"
    "padding:12px 14px;box-shadow:0 1px 2px rgba(0,0,0,.08)}.lab{font-size:12px;color:#52606d;"
    "text-transform:uppercase;letter-spacing:.04em}.val{font-size:26px;font-weight:650;"
    "margin:2px 0}.note{font-size:12px;color:#7b8794}.panel{background:#fff;border-radius:8px;"
    "padding:14px;box-shadow:0 1px 2px rgba(0,0,0,.08);margin-top:12px;overflow-x:auto}"
    "table{border-collapse:collapse;width:100%;font-size:12.5px}th,td{padding:5px 6px;"
    "text-align:right;border-bottom:1px solid #e4e7eb;white-space:nowrap}th:first-child,"
    "td:first-child{text-align:left;white-space:normal}th{color:#52606d;font-weight:600;"
    "white-space:normal;vertical-align:bottom}td.mut{color:#7b8794}tr.tot td{font-weight:650;"
    "background:#f8fafc}.qb{display:inline-block;width:44px;height:8px;background:#e4e7eb;"
    "border-radius:4px;margin-right:6px;vertical-align:middle;overflow:hidden}.qb span{display:"
    "block;height:8px;background:#2563eb}.warn{background:#fff7ed;border:1px solid #fdba74;"
    "border-radius:8px;padding:10px 14px;margin:14px 0;font-size:13px}.res{font-size:13.5px;"
    "line-height:1.6}small{color:#7b8794}code{font-size:12px}";

/* The cost-quality chart of a result: models, baselines and the policy's point. */
static void result_frontier(rr_buf *b, const json_t *root, double W, double H) {
    const json_t *o = json_object_get(root, "overall"), *bl = json_object_get(o, "baselines");
    rr_plot_point p[40];
    size_t n = 0;
    char labels[40][96];
    static const struct {
        const char *key, *label;
        int kind;
    } base[] = {{"always_cheapest", "always cheapest", 2},
                {"always_premium", "always premium", 2},
                {"oracle", "oracle (cheapest acceptable)", 3}};
    for (size_t i = 0; i < RR_ARRAY_LEN(base); i++) {
        const json_t *x = json_object_get(bl, base[i].key);
        p[n] = (rr_plot_point){num(x, "cost_per_request_usd"), num(x, "quality"), base[i].label,
                               base[i].kind};
        n++;
    }
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(json_object_get(root, "research"), "models"), i, m) {
        if (n >= 36)
            break;
        snprintf(labels[n], sizeof labels[n], "only %s",
                 json_string_value(json_object_get(m, "route")));
        p[n] = (rr_plot_point){num(m, "cost_per_request_usd"), num(m, "quality"), labels[n], 2};
        n++;
    }
    /* Per-route points duplicate a baseline when they coincide; drop those. */
    size_t k = 3;
    for (size_t j = 3; j < n; j++) {
        bool dup = false;
        for (size_t t = 0; t < 3; t++)
            dup |= fabs(p[j].cost - p[t].cost) < 1e-12 && fabs(p[j].quality - p[t].quality) < 1e-12;
        if (!dup)
            p[k++] = p[j];
    }
    n = k;
    p[n++] = (rr_plot_point){num(o, "cost_per_request_usd"), num(o, "quality"), "this policy", 1};
    rr_eval_svg_frontier(b, "Cost vs quality: this policy against the baselines", p, n, W, H);
}

int rr_eval_render(const char *result_json, size_t len, int svg_only, rr_buf *b, rr_error *err) {
    json_error_t je;
    json_t *root = json_loadb(result_json, len, 0, &je);
    if (!root)
        return rr_err(err, RR_EJSON, "report: %s", je.text);
    const json_t *o = json_object_get(root, "overall"), *pol = json_object_get(root, "policy");
    if (!(num(o, "n") > 0)) {
        json_decref(root);
        return rr_err(err, RR_EDATA, "report: no record was replayed");
    }
    if (svg_only) {
        result_frontier(b, root, 760, 480);
    } else {
        rr_buf_puts(b, "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
                       "<title>Replay report</title><style>");
        rr_buf_puts(b, page_css);
        rr_buf_puts(b, "</style></head><body><main>\n<h1>Replay of policy ");
        esc(b, json_string_value(json_object_get(pol, "name")));
        rr_buf_puts(b, " v");
        esc(b, json_string_value(json_object_get(pol, "version")));
        rr_buf_printf(b,
                      "</h1><div class=\"sub\">%.0f requests replayed from %.0f lines &#183; "
                      "fingerprint %s &#183; latency percentiles within %.0f%% (sketch)</div>\n",
                      num(o, "n"), num(root, "lines"),
                      json_string_value(json_object_get(pol, "fingerprint")),
                      100 * num(root, "sketch.relative_error"));
        problems(b, root);
        rr_buf_puts(b, "<div class=\"cards\">\n");
        cards(b, o);
        rr_buf_puts(b, "</div>\n<div class=\"panel\">");
        result_frontier(b, root, 960, 470);
        rr_buf_puts(b, "</div>\n<div class=\"panel\">");
        route_bars(b, o);
        rr_buf_puts(b,
                    "</div>\n<h2>By task family</h2><div class=\"panel\"><table><tr><th>Family"
                    "</th><th>Requests</th><th>Quality</th><th>Always premium</th><th>Cost/req</th>"
                    "<th>p50</th><th>p95</th><th>Escalated</th><th>False cheap</th><th>Premium "
                    "overuse</th><th>Human review</th><th>Route accuracy</th></tr>\n");
        const char *k;
        json_t *g;
        json_object_foreach(json_object_get(root, "families"), k, g) family_row(b, k, g, false);
        family_row(b, "all", o, true);
        rr_buf_puts(b, "</table></div>\n");
        research(b, root);
        rr_buf_puts(b, "</main></body></html>\n");
    }
    json_decref(root);
    return b->oom ? rr_err(err, RR_ENOMEM, "out of memory") : RR_OK;
}

const char *rr_eval_report(rr_eval *ev, uint32_t flags, size_t *len) {
    if (!ev)
        return NULL;
    size_t n;
    const char *res = rr_eval_result_json(ev, &n);
    if (!res)
        return NULL;
    rr_buf_clear(&ev->report);
    if (rr_eval_render(res, n, (flags & RR_EVAL_REPORT_SVG) != 0, &ev->report, NULL) != RR_OK)
        return NULL;
    if (len)
        *len = ev->report.len;
    return ev->report.p;
}
