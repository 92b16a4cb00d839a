/* Synthetic support traffic and a simulated model backend. See workload.h. */
#include "workload.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* ---- deterministic randomness: every draw is a hash of what it is about ---- */

static uint64_t mix64(uint64_t x) {
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static uint64_t hkey(uint64_t a, uint64_t b) {
    return mix64(a ^ mix64(b));
}

static uint64_t hstr(const char *s) {
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

typedef struct {
    uint64_t s;
} rng;

static uint64_t rnext(rng *r) {
    r->s += 0x9e3779b97f4a7c15ull;
    return mix64(r->s);
}

static double runif(rng *r) {
    return (double)(rnext(r) >> 11) * 0x1.0p-53;
}

static size_t rpick(rng *r, size_t n) {
    size_t k = (size_t)(runif(r) * (double)n);
    return k < n ? k : n - 1;
}

static double rnorm(rng *r) {
    double u1 = runif(r), u2 = runif(r);
    if (u1 < 1e-300)
        u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

static double rlognormal(rng *r, double median, double sigma) {
    return median * exp(sigma * rnorm(r));
}

/* Index of the weight `u` falls into (weights sum to 1). */
static int pick_weighted(double u, const double *w, int n) {
    double acc = 0;
    for (int i = 0; i < n - 1; i++) {
        acc += w[i];
        if (u < acc)
            return i;
    }
    return n - 1;
}

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const char *const family_names[DEMO_NFAMILIES] = {"faq", "troubleshoot", "extract",
                                                         "draft_policy", "unknown"};

const char *demo_family_name(int f) {
    return f >= 0 && f < DEMO_NFAMILIES ? family_names[f] : "?";
}

const char *const demo_categories[6] = {"billing",  "technical", "account",
                                        "security", "legal",     "other"};
const char *const demo_severities[4] = {"low", "medium", "high", "critical"};

/* ---- knowledge base: each topic has the passage holding the answer and a related one
 * that does not quite answer it (what weak retrieval returns) ---- */

typedef struct {
    const char *questions[3];
    const char *answer;
    const char *related;
} kb_topic;

static const kb_topic kb[] = {
    {{"How do I reset my password?", "how can I reset my password",
      "Where do I reset the password of my account?"},
     "To reset your password, open Settings and choose Security. Click Reset password and we email "
     "you a reset link that stays valid for 30 minutes.",
     "Passwords must be at least 12 characters long. Administrators can require a password change "
     "for every member of the workspace."},
    {{"How do I export my invoices?", "Can I export invoices as PDF?",
      "Where do I export past invoices?"},
     "Invoices can be exported from Billing. Choose Export, pick CSV or PDF, and the file "
     "downloads at once.",
     "Billing shows every invoice of the last 24 months. Invoices older than that are archived and "
     "sent on request."},
    {{"How do I enable single sign-on?", "Does single sign-on work with Okta?",
      "How can I turn on single sign-on for my team?"},
     "Single sign-on is available on the Enterprise plan. An administrator enables single sign-on "
     "under Settings, Authentication, by uploading the metadata of the identity provider.",
     "Members who sign in with a password keep working while single sign-on is being set up. "
     "Guests never use single sign-on."},
    {{"How can I add seats to my plan?", "How do I add more seats?",
      "Can owners add seats in the middle of the year?"},
     "Owners add seats under Billing, Seats. New seats are prorated for the rest of the billing "
     "period.",
     "Each seat belongs to one member. Removing a member frees the seat for someone else."},
    {{"What are the API rate limits?", "What is the rate limit of the API?",
      "How many API requests can I send per minute?"},
     "The API allows 600 requests per minute per workspace. Requests over the limit receive status "
     "429 with a Retry-After header.",
     "API keys are created under Settings, Developers. Each key can be limited to read access."},
    {{"How long do you keep deleted projects?", "Can I restore a deleted project?",
      "What happens to deleted projects?"},
     "Deleted projects stay in the trash for 30 days. After 30 days they are removed for good and "
     "cannot be restored.",
     "Archived projects are read-only and stay available until an owner deletes them."},
    {{"How do I turn on two-factor authentication?", "How can I enable two-factor authentication?",
      "Where is two-factor authentication configured?"},
     "Two-factor authentication is turned on under Settings, Security. Scan the code with an "
     "authenticator app and enter the six-digit code it shows.",
     "Administrators can see which members use two-factor authentication in the member list."},
    {{"How do I set up webhooks?", "How can I configure webhooks for my workspace?",
      "Where do I add a webhook endpoint?"},
     "Webhooks are configured under Settings, Integrations. Add the endpoint URL, choose the "
     "events to send, and each delivery is retried up to 5 times.",
     "Webhook payloads are signed with the secret shown once when the endpoint is created."},
    {{"What is the pricing of the Team plan?", "How much does the Team plan cost?",
      "What does the Team plan cost per user?"},
     "The Team plan costs 12 dollars per user per month, billed annually. With monthly billing the "
     "Team plan costs 15 dollars per user.",
     "Every plan includes unlimited projects. Discounts are available for nonprofits and schools."},
    {{"Where can I download the mobile app?", "Is there a mobile app for Android?",
      "How do I install the mobile app?"},
     "The mobile app is available on the App Store and Google Play. Sign in with the same email "
     "and password as on the web.",
     "Notifications on the phone follow the settings chosen in the desktop app."},
    {{"How do I change the time zone of my workspace?", "Can I change the workspace time zone?",
      "Where is the time zone setting?"},
     "Administrators change the workspace time zone under Settings, General. Existing schedules "
     "keep their original time zone.",
     "Each member can also choose a personal time zone in the profile menu."},
    {{"Can I import tasks from a spreadsheet?", "How do I import tasks from CSV?",
      "How can I import a spreadsheet of tasks?"},
     "Tasks can be imported from a CSV spreadsheet under Projects, Import. Each row becomes a task "
     "and each column maps to a field.",
     "Imports of more than 5000 rows run in the background and send an email when they finish."},
};

/* Policy knowledge base for refund, legal and security drafting. */
typedef struct {
    const char *requests[3];
    const char *passages[2];
} policy_topic;

static const policy_topic policy_kb[] = {
    {{"I want a refund for the duplicate charge on invoice %s.",
      "We were charged twice for invoice %s and need a refund before the end of the month.",
      "Please process a refund for invoice %s, the seats were never used."},
     {"Duplicate charges are reversed to the original payment method within 10 business days after "
      "a billing review.",
      "Refund requests for annual plans are reviewed by the billing team and answered within 3 "
      "business days."}},
    {{"Our legal team asks whether the data processing addendum covers transfers under GDPR, see "
      "contract %s.",
      "Does your GDPR documentation cover our subprocessors? Our reference is %s.",
      "Our attorney needs the data retention terms for contract %s."},
     {"The Data Processing Addendum covers transfers outside the European Union under the Standard "
      "Contractual Clauses.",
      "Customer data is stored in the region chosen at signup, and workspaces in the European "
      "Union stay in Frankfurt."}},
    {{"We think there was a security incident: an unknown device accessed workspace %s last night.",
      "Possible data breach in workspace %s, a former employee still had access.",
      "We need a breach notification statement for workspace %s."},
     {"Suspected security incidents are triaged by the security team within 4 hours of the report.",
      "Workspace owners can revoke every active session under Settings, Security, and review the "
      "audit log there."}},
    {{"We will file a chargeback unless invoice %s is corrected.",
      "Our lawyer says the lawsuit hold applies to workspace %s, please keep all data.",
      "A subpoena asks for records of workspace %s."},
     {"Requests from courts and law enforcement are handled by the legal team and answered in "
      "writing.",
      "Chargebacks are reviewed by the billing team, which contacts the account owner before any "
      "decision."}},
};

static const char *const trouble_symptoms[] = {
    "The calendar sync fails with error 502",
    "Exports are not working since the last update",
    "The desktop app crashes when I open a shared board",
    "I can't log in, the page says my session timed out",
    "Webhook deliveries failed with status 500 overnight",
    "The mobile app is broken after the latest release",
    "Uploading attachments fails with an error about the file size",
    "Single sign-on login doesn't work for our new hires",
};

static const char *const trouble_context[] = {
    " since this morning.",
    " for the whole team.",
    ". We already cleared the cache.",
    ". It worked fine last week.",
    " and our deadline is tomorrow.",
};

static const char *const trouble_fixes[] = {
    "Open Settings, Integrations and reconnect the calendar. The first sync after reconnecting can "
    "take ten minutes.",
    "Export jobs now run in the background. Start the export again and wait for the email with the "
    "download link.",
    "Update the desktop app to the latest version and reopen the board. Shared boards need version "
    "4.2 or later.",
    "Sign out on every device under Settings, Security and sign in again. Sessions now expire "
    "after 12 hours.",
    "The endpoint returned status 500, so deliveries are retried for 24 hours. Fix the endpoint "
    "and use Redeliver for the failed events.",
    "Reinstall the mobile app from the store and sign in again. The release fixed the crash on "
    "older phones.",
    "Attachments are limited to 250 MB each. Compress the file or share it from cloud storage "
    "instead.",
    "New hires must be assigned to the app in the identity provider. Assign them and ask them to "
    "sign in again.",
};

static const char *const people[] = {"Ana Lopez", "Tom Berg",    "Priya Nair", "Jonas Weber",
                                     "Mei Chen",  "Omar Haddad", "Sara Rossi", "Luis Moreno"};
static const char *const people_mail[] = {"ana.lopez", "tom.berg",    "priya.nair", "jonas.weber",
                                          "mei.chen",  "omar.haddad", "sara.rossi", "luis.moreno"};
static const char *const companies[] = {"acme.io", "northwind.example", "globex.example",
                                        "initech.example"};

static const char *const unknown_short[] = {"hi",        "hello",        "thanks",   "help",
                                            "ok thanks", "good morning", "hey there"};
static const char *const unknown_long[] = {
    "I would like to speak with someone about our account manager.",
    "Please forward this to the sales team for our renewal next quarter.",
    "We are evaluating tools for our design team and want a recommendation.",
    "Tell me something about your company and the people who build the product.",
    "Our team is planning an offsite and wonders if you have a partner program.",
};

/* ---- request generation ---- */

void demo_request_init(demo_request *r, const rr_alloc *a) {
    memset(r, 0, sizeof *r);
    rr_buf_init(&r->text, a);
}

void demo_request_free(demo_request *r) {
    rr_buf_free(&r->text);
}

static void add_ev(demo_request *r, const char *text, double score, int id) {
    if (r->nev >= DEMO_MAX_EVIDENCE)
        return;
    demo_evidence *e = &r->ev[r->nev++];
    snprintf(e->id, sizeof e->id, "kb-%d", id);
    e->text = text;
    e->score = score;
}

/* A topic other than `t`, distinct for each i < n - 1. */
static size_t other_topic(size_t t, size_t i, size_t off, size_t n) {
    return (t + 1 + (off + i) % (n - 1)) % n;
}

static void gen_faq(demo_request *r, rng *g) {
    size_t n = COUNT(kb), t = rpick(g, n);
    const kb_topic *k = &kb[t];
    r->topic = (int)t;
    rr_buf_puts(&r->text, k->questions[rpick(g, 3)]);
    double u = runif(g);
    r->retrieval = u < 0.60 ? 1 : u < 0.975 ? 2 : 0;
    size_t ndis = 1 + rpick(g, 3), off = rpick(g, n);
    if (r->retrieval == 1) {
        double top = 0.80 + 0.15 * runif(g);
        add_ev(r, k->answer, top, 100 + (int)t * 10);
        for (size_t i = 0; i < ndis; i++) {
            size_t o = other_topic(t, i, off, n);
            add_ev(r, kb[o].answer, top - 0.20 - 0.30 * runif(g), 100 + (int)o * 10);
        }
    } else if (r->retrieval == 2) {
        /* The retriever found the neighbourhood, not the answer: scores bunch together. */
        double top = 0.46 + 0.14 * runif(g);
        add_ev(r, k->related, top, 101 + (int)t * 10);
        for (size_t i = 0; i < ndis; i++) {
            size_t o = other_topic(t, i, off, n);
            add_ev(r, kb[o].related, top - 0.12 * runif(g), 101 + (int)o * 10);
        }
    }
}

static void gen_troubleshoot(demo_request *r, rng *g) {
    size_t s = rpick(g, COUNT(trouble_symptoms));
    r->topic = (int)s;
    rr_buf *b = &r->text;
    rr_buf_puts(b, trouble_symptoms[s]);
    rr_buf_puts(b, trouble_context[rpick(g, COUNT(trouble_context))]);
    if (runif(g) < 0.22) {
        r->pii = 1;
        size_t p = rpick(g, COUNT(people));
        if (runif(g) < 0.6)
            rr_buf_printf(b, " My login is %s@%s.", people_mail[p],
                          companies[rpick(g, COUNT(companies))]);
        else
            rr_buf_printf(b, " Please call me back at +1 415 555 01%02u.", (unsigned)rpick(g, 100));
    }
    double u = runif(g);
    if (u < 0.14) {
        r->hard = 1; /* a pasted log: long */
        rr_buf_puts(b, " Here is what the log says:\n");
        unsigned day = 1 + (unsigned)rpick(g, 28);
        for (unsigned i = 0; i < 26; i++)
            rr_buf_printf(b,
                          "2024-05-%02uT10:%02u:%02uZ worker-%u upstream returned 502 for feed "
                          "cal-%04u after 30000 ms\n",
                          day, i, (unsigned)rpick(g, 60), (unsigned)rpick(g, 8),
                          (unsigned)rpick(g, 10000));
    } else if (u < 0.28) {
        r->hard = 1; /* many systems and people involved */
        rr_buf_printf(b,
                      " Affected: workspace ACME-EU, projects PRJ-%04u and PRJ-%04u, boards "
                      "BRD-11 and BRD-12, members %s and %s, integration Salesforce.",
                      (unsigned)rpick(g, 10000), (unsigned)rpick(g, 10000), people[rpick(g, 4)],
                      people[4 + rpick(g, 4)]);
    }
}

static const double category_w[6] = {0.36, 0.25, 0.14, 0.08, 0.05, 0.12};

static void gen_ticket(demo_request *r, rng *g) {
    demo_ticket *t = &r->ticket;
    memset(t, 0, sizeof *t);
    t->category = pick_weighted(runif(g), category_w, 6);
    if (r->allowed_categories && t->category == 5)
        t->category = 1; /* tenants with a category list never get "other" mail */
    t->severity = t->category == 3 ? 2 + (int)rpick(g, 2) : (int)rpick(g, 4);
    t->needs_human = t->category == 3 || t->category == 4 || t->severity == 3;
    unsigned num = 10000 + (unsigned)rpick(g, 90000);
    snprintf(t->date, sizeof t->date, "2024-%02u-%02uT09:30:00Z", 1 + (unsigned)rpick(g, 12),
             1 + (unsigned)rpick(g, 28));
    static const char *const items[] = {"Team plan", "Extra seats", "Storage add-on"};
    static const char *const products[] = {"Exports", "Calendar sync", "Desktop app", "Webhooks"};
    switch (t->category) {
    case 0:
        snprintf(t->subject, sizeof t->subject, "Invoice INV-%u charged twice", num);
        snprintf(t->entity_type, sizeof t->entity_type, "invoice");
        snprintf(t->entity, sizeof t->entity, "INV-%u", num);
        t->nitems = 1 + (int)rpick(g, 3);
        for (int i = 0; i < t->nitems; i++) {
            snprintf(t->item_desc[i], sizeof t->item_desc[i], "%s", items[i]);
            t->item_amount[i] = (double)(20 + rpick(g, 180)) + 0.5 * (double)rpick(g, 2);
        }
        break;
    case 1:
        snprintf(t->subject, sizeof t->subject, "%s stopped working on order ORD-%u",
                 products[rpick(g, 4)], num);
        snprintf(t->entity_type, sizeof t->entity_type, "order");
        snprintf(t->entity, sizeof t->entity, "ORD-%u", num);
        break;
    case 2:
        snprintf(t->subject, sizeof t->subject, "Please add two seats for our new hires");
        snprintf(t->entity_type, sizeof t->entity_type, "person");
        snprintf(t->entity, sizeof t->entity, "%s", people[rpick(g, COUNT(people))]);
        break;
    case 3:
        snprintf(t->subject, sizeof t->subject, "Unknown sign-in from a new device");
        break;
    case 4:
        snprintf(t->subject, sizeof t->subject, "Question about our contract CTR-%u", num);
        break;
    default:
        snprintf(t->subject, sizeof t->subject, "Feedback on the new dashboard");
        break;
    }
}

static void gen_extract(demo_request *r, rng *g) {
    const demo_ticket *t = &r->ticket;
    rr_buf *b = &r->text;
    size_t p = rpick(g, COUNT(people));
    if (runif(g) < 0.25) {
        r->channel = "agent_assist";
        r->output_format = "json";
        rr_buf_puts(b, "Fill in the ticket for this customer message.\n");
    } else {
        r->channel = "email";
    }
    if (runif(g) < 0.35) {
        r->pii = 1;
        rr_buf_printf(b, "From: %s <%s@%s>\n", people[p], people_mail[p],
                      companies[rpick(g, COUNT(companies))]);
    } else {
        rr_buf_printf(b, "From: %s\n", people[p]);
    }
    rr_buf_printf(b, "Subject: %s\n\nHello,\n", t->subject);
    char day[11];
    memcpy(day, t->date, 10);
    day[10] = 0;
    if (t->nitems) {
        double total = 0;
        rr_buf_printf(b, "our card was charged twice on %s. The invoice lists", day);
        for (int i = 0; i < t->nitems; i++) {
            rr_buf_printf(b, "%s %s %.2f", i ? "," : "", t->item_desc[i], t->item_amount[i]);
            total += t->item_amount[i];
        }
        rr_buf_printf(b, ", %.2f in total. Please fix this.\n", total);
    } else {
        rr_buf_printf(b, "since %s we have had this problem and it blocks our team.%s\n", day,
                      t->category == 3 ? " Nobody here recognises the device." : "");
    }
    if (runif(g) < 0.06) {
        r->hard = 1; /* a long quoted thread */
        for (int i = 0; i < 70; i++)
            rr_buf_printf(b,
                          "> On 2024-04-%02d the support team wrote: we are looking into it "
                          "and will get back to you with an update soon.\n",
                          1 + i % 28);
    }
    rr_buf_printf(b, "Thanks,\n%s, customer %s\n", people[p], r->customer_id);
}

static void gen_draft(demo_request *r, rng *g) {
    size_t t = rpick(g, COUNT(policy_kb));
    r->topic = (int)t;
    const policy_topic *pt = &policy_kb[t];
    rr_buf_printf(&r->text, pt->requests[rpick(g, 3)],
                  t == 0   ? "INV-20931"
                  : t == 1 ? "CTR-2231"
                           : "WS-4417");
    r->retrieval = 1;
    double top = 0.78 + 0.14 * runif(g);
    add_ev(r, pt->passages[0], top, 500 + (int)t * 10);
    add_ev(r, pt->passages[1], top - 0.10 - 0.15 * runif(g), 501 + (int)t * 10);
}

static void gen_unknown(demo_request *r, rng *g) {
    if (runif(g) < 0.55) {
        rr_buf_puts(&r->text, unknown_short[rpick(g, COUNT(unknown_short))]);
    } else {
        r->hard = 1;
        rr_buf_puts(&r->text, unknown_long[rpick(g, COUNT(unknown_long))]);
    }
}

/* Traffic mix: FAQ dominates volume, as in the article. */
static const double family_w[DEMO_NFAMILIES] = {0.44, 0.22, 0.16, 0.10, 0.08};
static const char *const tiers[4] = {"free", "standard", "enterprise", "regulated"};
static const double tier_w[4] = {0.25, 0.45, 0.22, 0.08};
static const double auth_p[4] = {0.60, 0.75, 0.90, 0.95};

int demo_request_generate(demo_request *r, uint64_t seed, size_t index) {
    rr_buf text = r->text;
    memset(r, 0, sizeof *r);
    r->text = text;
    rr_buf_clear(&r->text);
    r->index = index;
    r->key = hkey(seed, index);
    rng g = {r->key};
    r->family = pick_weighted(runif(&g), family_w, DEMO_NFAMILIES);
    r->difficulty = runif(&g);
    int tier = pick_weighted(runif(&g), tier_w, 4);
    r->tier = tiers[tier];
    r->channel = "chat";
    r->authenticated = runif(&g) < auth_p[tier];
    unsigned cust = 1000 + (unsigned)rpick(&g, 9000);
    snprintf(r->customer_id, sizeof r->customer_id, "CUS-%u", cust);
    snprintf(r->other_customer, sizeof r->other_customer, "CUS-%u", 1000 + (cust + 17) % 9000);
    if (tier == 2)
        r->allowed_categories = "billing,technical,account,security,legal";
    gen_ticket(r, &g); /* every request has a ticket a JSON route could extract */
    switch (r->family) {
    case DEMO_FAQ:
        gen_faq(r, &g);
        break;
    case DEMO_TROUBLESHOOT:
        gen_troubleshoot(r, &g);
        break;
    case DEMO_EXTRACT:
        gen_extract(r, &g);
        break;
    case DEMO_DRAFT_POLICY:
        gen_draft(r, &g);
        break;
    default:
        gen_unknown(r, &g);
        break;
    }
    return r->text.oom ? RR_ENOMEM : RR_OK;
}

int demo_request_apply(const demo_request *r, rr_request *q) {
    rr_request_reset(q);
    int rc = rr_request_set_text(q, r->text.p, r->text.len);
    if (!rc)
        rc = rr_request_set_attr(q, "tenant.tier", r->tier);
    if (!rc)
        rc = rr_request_set_attr(q, "channel", r->channel);
    if (!rc && r->output_format)
        rc = rr_request_set_attr(q, "output.format", r->output_format);
    if (!rc)
        rc = rr_request_set_bool(q, "user.authenticated", r->authenticated);
    if (!rc && r->authenticated)
        rc = rr_request_set_attr(q, "customer.id", r->customer_id);
    if (!rc && r->allowed_categories)
        rc = rr_request_set_attr(q, "allowed_categories", r->allowed_categories);
    for (size_t i = 0; i < r->nev && !rc; i++)
        rc = rr_request_add_evidence(q, r->ev[i].id, r->ev[i].text, strlen(r->ev[i].text),
                                     r->ev[i].score);
    return rc;
}

/* ---- the simulated backend ---- */

void demo_backend_init(demo_backend *b, const rr_alloc *a, uint64_t seed) {
    memset(b, 0, sizeof *b);
    b->seed = seed;
    rr_buf_init(&b->out, a);
    rr_buf_init(&b->tool, a);
    rr_buf_init(&b->tmp, a);
}

void demo_backend_free(demo_backend *b) {
    rr_buf_free(&b->out);
    rr_buf_free(&b->tool);
    rr_buf_free(&b->tmp);
}

int demo_backend_add_model(demo_backend *b, const char *id, int tier) {
    if (b->nmodels >= COUNT(b->model_id) || strlen(id) >= sizeof b->model_id[0])
        return RR_ERANGE;
    snprintf(b->model_id[b->nmodels], sizeof b->model_id[0], "%s", id);
    b->model_tier[b->nmodels++] = tier;
    return RR_OK;
}

/* Tier 1..3: beyond 3 behaves like 3. Unknown models behave like the middle tier. */
static int tier_of(const demo_backend *b, const char *model) {
    for (size_t i = 0; i < b->nmodels; i++)
        if (!strcmp(b->model_id[i], model)) {
            int t = b->model_tier[i];
            return t < 1 ? 1 : t > 3 ? 3 : t;
        }
    return 2;
}

/* The share of each family's requests a tier handles well: [family][easy/hard][tier-1]. */
static const double skill[DEMO_NFAMILIES][2][3] = {
    [DEMO_FAQ] = {{0.86, 0.965, 0.99}, {0.52, 0.86, 0.95}},
    [DEMO_TROUBLESHOOT] = {{0.55, 0.92, 0.975}, {0.22, 0.68, 0.93}},
    [DEMO_EXTRACT] = {{0.72, 0.93, 0.985}, {0.45, 0.85, 0.97}},
    [DEMO_DRAFT_POLICY] = {{0.45, 0.82, 0.955}, {0.45, 0.82, 0.955}},
    [DEMO_UNKNOWN] = {{0.72, 0.93, 0.98}, {0.72, 0.93, 0.98}},
};

enum {
    F_OK,
    F_CITE_NUM,      /* "[7]" with three passages */
    F_CITE_DOC,      /* "[doc:kb-9xx]" that was never retrieved */
    F_HALLUCINATE,   /* fluent, cited, and about something else */
    F_WRONG_PASSAGE, /* faithfully cites a retrieved passage that does not answer it */
    F_LEAK,          /* someone else's contact details */
    F_REFUSAL,
    F_LOWCONF,
    F_COMMIT,  /* promises a refund or an outcome */
    F_UNCITED, /* policy claims with no source */
    F_MALFORMED,
    F_TRUNCATED,
    F_SCHEMA,
    F_SEMANTIC,
};

/* How a tier fails each kind of task, as weights over the modes. */
static int failure_mode(const demo_request *r, int tier, int json, int constrained, double u) {
    if (json) {
        static const double free_w[4] = {0.35, 0.15, 0.25, 0.25};
        static const double constrained_w[2] = {0.15, 0.85};
        if (constrained)
            return pick_weighted(u, constrained_w, 2) ? F_SEMANTIC : F_TRUNCATED;
        static const int modes[4] = {F_MALFORMED, F_TRUNCATED, F_SCHEMA, F_SEMANTIC};
        return modes[pick_weighted(u, free_w, 4)];
    }
    switch (r->family) {
    case DEMO_FAQ: {
        static const double w[2][4] = {{0.20, 0.15, 0.45, 0.20}, {0.15, 0.10, 0.60, 0.15}};
        static const int modes[4] = {F_CITE_NUM, F_CITE_DOC, F_HALLUCINATE, F_WRONG_PASSAGE};
        int m = modes[pick_weighted(u, w[tier > 1], 4)];
        return m == F_WRONG_PASSAGE && r->nev < 2 ? F_HALLUCINATE : m;
    }
    case DEMO_TROUBLESHOOT: {
        static const double w[3][3] = {{0.35, 0.25, 0.40}, {0.20, 0.25, 0.55}, {0.30, 0.20, 0.50}};
        static const int modes[3] = {F_REFUSAL, F_LEAK, F_LOWCONF};
        return modes[pick_weighted(u, w[tier - 1], 3)];
    }
    case DEMO_DRAFT_POLICY: {
        static const double w[2][3] = {{0.55, 0.30, 0.15}, {0.45, 0.35, 0.20}};
        static const int modes[3] = {F_COMMIT, F_UNCITED, F_REFUSAL};
        return modes[pick_weighted(u, w[tier > 1], 3)];
    }
    default: {
        static const double w[2] = {0.4, 0.6};
        return pick_weighted(u, w, 2) ? F_LOWCONF : F_REFUSAL;
    }
    }
}

/* Append `passage` with `cite` before the full stop of each sentence. */
static void cite_passage(rr_buf *o, const char *passage, const char *cite) {
    for (const char *p = passage; *p; p++) {
        if (*p == '.' && (p[1] == ' ' || p[1] == 0)) {
            rr_buf_printf(o, " %s.", cite);
            continue;
        }
        rr_buf_putc(o, *p);
    }
}

static void faq_answer(demo_backend *b, const demo_request *r, int tier, int mode, rng *g) {
    rr_buf *o = &b->out;
    char cite[32];
    const char *passage = r->nev ? r->ev[0].text : kb[r->topic].answer;
    size_t at = mode == F_WRONG_PASSAGE ? 1 : 0; /* a grounded answer to another question */
    if (r->nev > at)
        passage = r->ev[at].text;
    if (tier >= 3 && r->nev > at)
        snprintf(cite, sizeof cite, "[doc:%s]", r->ev[at].id);
    else
        snprintf(cite, sizeof cite, "[%zu]", at + 1);
    if (mode == F_CITE_NUM)
        snprintf(cite, sizeof cite, "[%u]", (unsigned)(r->nev < 7 ? 7 : r->nev + 2));
    else if (mode == F_CITE_DOC)
        snprintf(cite, sizeof cite, "[doc:kb-9%02u]", (unsigned)rpick(g, 100));
    else if (mode == F_HALLUCINATE)
        passage = kb[other_topic((size_t)r->topic, 0, rpick(g, COUNT(kb)), COUNT(kb))].answer;
    cite_passage(o, passage, cite);
}

static void trouble_answer(demo_backend *b, const demo_request *r, int mode, rng *g) {
    rr_buf *o = &b->out;
    if (mode == F_REFUSAL) {
        rr_buf_puts(o, "I'm sorry, but I can't help with that request.");
        return;
    }
    if (mode == F_LOWCONF) {
        rr_buf_puts(o, "It may be a temporary problem. Please try again later.");
        return;
    }
    rr_buf_puts(o, trouble_fixes[(size_t)r->topic % COUNT(trouble_fixes)]);
    if (mode == F_LEAK) {
        size_t p = rpick(g, COUNT(people));
        rr_buf_printf(o,
                      " The account owner is %s (%s@%s, +1 415 555 01%02u) and can approve "
                      "the change.",
                      people[p], people_mail[p], companies[rpick(g, COUNT(companies))],
                      (unsigned)rpick(g, 100));
    }
}

static void policy_answer(demo_backend *b, const demo_request *r, int mode) {
    rr_buf *o = &b->out;
    static const char *const commitments[] = {
        " As a goodwill gesture we will refund the full amount today [1].",
        " In your case you are entitled to a full exemption from these terms [1].",
        " This is a guaranteed outcome of our review [1].",
        " Before any review we will reimburse the disputed amount [2].",
    };
    if (mode == F_REFUSAL) {
        rr_buf_puts(o, "I'm sorry, but I can't help with that request.");
        return;
    }
    if (mode == F_UNCITED) {
        rr_buf_puts(o, "Our policy always favours long-standing customers. Requests like yours "
                       "are usually approved the same day.");
        return;
    }
    const policy_topic *pt = &policy_kb[(size_t)r->topic % COUNT(policy_kb)];
    cite_passage(o, pt->passages[0], "[1]");
    rr_buf_putc(o, ' ');
    cite_passage(o, pt->passages[1], "[2]");
    if (mode == F_COMMIT)
        rr_buf_puts(o, commitments[(size_t)r->topic % COUNT(commitments)]);
}

static void general_answer(demo_backend *b, int mode) {
    rr_buf *o = &b->out;
    if (mode == F_REFUSAL)
        rr_buf_puts(o, "I'm sorry, but I can't help with that request.");
    else if (mode == F_LOWCONF)
        rr_buf_puts(o, "I am not sure what you mean by that.");
    else
        rr_buf_puts(o, "I can help with questions about your account, billing and our product. "
                       "Which of these is your message about?");
}

/* What a ticket output gets wrong; NULL / -1 / 0 = as the email says. */
typedef struct {
    const char *customer;
    const char *category;
    const char *severity;
    const char *date;
    int needs_human; /* -1 = as the email says, -2 = left out */
    double total_delta;
    int extra_property;
} ticket_twist;

static void kv_str(rr_buf *o, const char *k, const char *v, int comma) {
    if (comma)
        rr_buf_putc(o, ',');
    rr_buf_json_str(o, k, strlen(k));
    rr_buf_putc(o, ':');
    rr_buf_json_str(o, v, strlen(v));
}

static void ticket_json(rr_buf *o, const demo_request *r, const ticket_twist *tw) {
    const demo_ticket *t = &r->ticket;
    rr_buf_putc(o, '{');
    kv_str(o, "category", tw->category ? tw->category : demo_categories[t->category], 0);
    kv_str(o, "severity", tw->severity ? tw->severity : demo_severities[t->severity], 1);
    kv_str(o, "customer_id", tw->customer ? tw->customer : r->customer_id, 1);
    kv_str(o, "summary", t->subject, 1);
    if (tw->needs_human != -2)
        rr_buf_printf(o, ",\"needs_human\":%s",
                      (tw->needs_human == -1 ? t->needs_human : tw->needs_human) ? "true"
                                                                                 : "false");
    rr_buf_puts(o, ",\"mentioned_dates\":[");
    rr_buf_json_str(o, tw->date ? tw->date : t->date, strlen(tw->date ? tw->date : t->date));
    rr_buf_putc(o, ']');
    if (t->entity[0]) {
        rr_buf_puts(o, ",\"entities\":[{");
        kv_str(o, "type", t->entity_type, 0);
        kv_str(o, "value", t->entity, 1);
        rr_buf_puts(o, "}]");
    }
    if (t->nitems) {
        double total = tw->total_delta;
        rr_buf_puts(o, ",\"line_items\":[");
        for (int i = 0; i < t->nitems; i++) {
            rr_buf_printf(o, "%s{", i ? "," : "");
            kv_str(o, "description", t->item_desc[i], 0);
            rr_buf_printf(o, ",\"amount\":%.2f}", t->item_amount[i]);
            total += t->item_amount[i];
        }
        rr_buf_printf(o, "],\"invoice_total\":%.2f", total);
    }
    if (tw->extra_property)
        rr_buf_puts(o, ",\"priority\":\"p2\"");
    rr_buf_putc(o, '}');
}

/* A schema violation of the kind small models make. */
static void schema_twist(ticket_twist *tw, rng *g) {
    switch (rpick(g, 5)) {
    case 0:
        tw->severity = "urgent";
        break;
    case 1:
        tw->needs_human = -2;
        break;
    case 2:
        tw->date = "May 3";
        break;
    case 3:
        tw->extra_property = 1;
        break;
    default:
        tw->customer = "cus_1042";
        break;
    }
}

/* A semantic error the schema cannot see; 0 when none of them applies to this ticket. */
static int semantic_twist(const demo_request *r, ticket_twist *tw, rng *g) {
    int options[4], n = 0;
    if (r->authenticated)
        options[n++] = 0;
    if (r->ticket.nitems)
        options[n++] = 1;
    if (r->ticket.category == 3)
        options[n++] = 2;
    if (r->allowed_categories)
        options[n++] = 3;
    if (!n)
        return 0;
    switch (options[rpick(g, (size_t)n)]) {
    case 0:
        tw->customer = r->other_customer;
        break;
    case 1:
        tw->total_delta = 10;
        break;
    case 2:
        tw->needs_human = 0;
        break;
    default:
        tw->category = "other";
        break;
    }
    return 1;
}

static void extraction(demo_backend *b, const demo_request *r, int mode, int constrained, rng *g) {
    rr_buf *o = &b->out;
    ticket_twist tw = {NULL, NULL, NULL, NULL, -1, 0, 0};
    /* With nothing semantic to get wrong, a free model breaks the schema instead and a
     * constrained one (which cannot break it) runs out of tokens. */
    if (mode == F_SEMANTIC && !semantic_twist(r, &tw, g))
        mode = constrained ? F_TRUNCATED : F_SCHEMA;
    if (mode == F_SCHEMA)
        schema_twist(&tw, g);
    if (mode != F_MALFORMED && mode != F_TRUNCATED) {
        ticket_json(o, r, &tw);
        return;
    }
    rr_buf *t = &b->tmp;
    rr_buf_clear(t);
    ticket_json(t, r, &tw);
    if (mode == F_TRUNCATED) { /* ran into max_output_tokens */
        rr_buf_put(o, t->p, (size_t)((double)t->len * (0.3 + 0.55 * runif(g))));
        return;
    }
    switch (rpick(g, 4)) {
    case 0:
        rr_buf_puts(o, "```json\n");
        rr_buf_put(o, t->p, t->len);
        rr_buf_puts(o, "\n```");
        break;
    case 1: /* trailing comma */
        rr_buf_put(o, t->p, t->len - 1);
        rr_buf_puts(o, ",}");
        break;
    case 2:
        rr_buf_puts(o, "Here is the ticket: ");
        rr_buf_put(o, t->p, t->len);
        break;
    default:
        for (size_t i = 0; i < t->len; i++)
            rr_buf_putc(o, t->p[i] == '"' ? '\'' : t->p[i]);
        break;
    }
}

/* Transient trouble per call, by tier: 429, 5xx, timeout, hard error. */
static const double p_429[3] = {0.008, 0.012, 0.020};
#define P_5XX 0.004
#define P_TIMEOUT 0.005
#define P_ERROR 0.0015
#define CLIENT_TIMEOUT_MS 10000.0

static const double tier_latency_ms[3] = {450, 1100, 2600};

static int64_t input_tokens(const demo_request *r, const rr_model_call *c, int tier) {
    int64_t n = 280 + 90 * tier + (int64_t)(c->text_len + 3) / 4;
    n += (int64_t)strlen(c->previous_findings) / 4;
    for (size_t i = 0; i < c->ntools; i++) {
        const char *t = c->tools[i];
        if (!strcmp(t, "retrieval") || !strcmp(t, "policy_kb"))
            for (size_t k = 0; k < r->nev; k++)
                n += (int64_t)(strlen(r->ev[k].text) + 3) / 4 + 8;
        else if (!strcmp(t, "crm"))
            n += 350;
        else if (!strcmp(t, "tickets"))
            n += 600;
        else if (!strcmp(t, "logs"))
            n += 1400;
        else
            n += 60;
    }
    return c->context_tokens > 0 && n > c->context_tokens ? c->context_tokens : n;
}

/* The transient part: returns an RR_CALL_* status other than OK, or RR_CALL_OK. */
static int transient(rng *g, int tier, rr_model_result *res) {
    double u = runif(g);
    res->input_tokens = 0;
    res->output_tokens = 0;
    double p = p_429[tier - 1];
    if (u < p) {
        res->latency_ms = 20 + 60 * runif(g);
        return RR_CALL_RETRIABLE;
    }
    if (u < (p += P_5XX)) {
        res->latency_ms = 150 + 400 * runif(g);
        return RR_CALL_RETRIABLE;
    }
    if (u < (p += P_TIMEOUT)) {
        res->latency_ms = CLIENT_TIMEOUT_MS;
        return RR_CALL_TIMEOUT;
    }
    if (u < p + P_ERROR) {
        res->latency_ms = 100 + 200 * runif(g);
        return RR_CALL_ERROR;
    }
    return RR_CALL_OK;
}

int demo_call_model(void *ud, const rr_model_call *c, rr_model_result *res) {
    demo_backend *b = ud;
    const demo_request *r = b->cur;
    if (!r)
        return RR_CALL_ERROR;
    int tier = tier_of(b, c->model);
    /* Transient trouble differs per attempt; what the model writes depends only on the
     * request and the tier, so a retry of the same route writes the same thing. */
    rng call = {hkey(hkey(r->key, 0x63616c6cull + (uint64_t)tier), c->attempt)};
    int st = transient(&call, tier, res);
    if (st != RR_CALL_OK)
        return st;
    rng g = {hkey(r->key, 0x6d6f64656cull + (uint64_t)tier)};
    int json = strcmp(c->output_mode, "text") != 0;
    int constrained = !strcmp(c->output_mode, "constrained");
    int hard = r->family == DEMO_FAQ ? r->retrieval != 1 : r->hard;
    int fam = json ? DEMO_EXTRACT : r->family == DEMO_EXTRACT ? DEMO_UNKNOWN : r->family;
    int ok = r->difficulty < skill[fam][hard][tier - 1];
    int mode = ok ? F_OK : failure_mode(r, tier, json, constrained, runif(&g));
    rr_buf_clear(&b->out);
    if (json)
        extraction(b, r, mode, constrained, &g);
    else if (fam == DEMO_FAQ)
        faq_answer(b, r, tier, mode, &g);
    else if (fam == DEMO_TROUBLESHOOT)
        trouble_answer(b, r, mode, &g);
    else if (fam == DEMO_DRAFT_POLICY)
        policy_answer(b, r, mode);
    else
        general_answer(b, mode);
    if (b->out.oom)
        return RR_CALL_ERROR;
    b->last_flawed = mode != F_OK;
    res->output = b->out.p;
    res->output_len = b->out.len;
    res->input_tokens = input_tokens(r, c, tier);
    res->output_tokens = (int64_t)(b->out.len + 3) / 4;
    double median = tier_latency_ms[tier - 1] * (0.7 + (double)res->output_tokens / 300.0);
    res->latency_ms = rlognormal(&call, median, 0.30 + 0.05 * tier);
    res->confidence = mode == F_LOWCONF ? 0.20 + 0.35 * runif(&call)
                      : ok              ? 0.72 + 0.26 * runif(&call)
                                        : 0.45 + 0.45 * runif(&call);
    return RR_CALL_OK;
}

typedef struct {
    const char *name;
    double median_ms;
    double p_error, p_retriable, p_timeout;
} tool_profile;

static const tool_profile tool_profiles[] = {
    {"retrieval", 35, 0, 0, 0},   {"rerank", 60, 0, 0, 0},   {"crm", 120, 0.012, 0.004, 0},
    {"tickets", 90, 0, 0.008, 0}, {"logs", 320, 0, 0, 0.01}, {"policy_kb", 45, 0, 0, 0},
};

int demo_call_tool(void *ud, const rr_tool_call *c, rr_tool_result *res) {
    demo_backend *b = ud;
    const demo_request *r = b->cur;
    if (!r)
        return RR_CALL_ERROR;
    tool_profile prof = {c->tool, 80, 0, 0, 0};
    for (size_t i = 0; i < COUNT(tool_profiles); i++)
        if (!strcmp(tool_profiles[i].name, c->tool))
            prof = tool_profiles[i];
    rng g = {hkey(hkey(r->key, hstr(c->tool)), c->attempt)};
    double u = runif(&g);
    res->latency_ms = rlognormal(&g, prof.median_ms, 0.4);
    if (u < prof.p_error)
        return RR_CALL_ERROR;
    if (u < prof.p_error + prof.p_retriable)
        return RR_CALL_RETRIABLE;
    if (u < prof.p_error + prof.p_retriable + prof.p_timeout) {
        res->latency_ms = 5000;
        return RR_CALL_TIMEOUT;
    }
    rr_buf_clear(&b->tool);
    rr_buf_printf(&b->tool, "{\"tool\":\"%s\",\"items\":%u}", c->tool,
                  (unsigned)(1 + rpick(&g, 5)));
    res->output = b->tool.p;
    res->output_len = b->tool.len;
    return b->tool.oom ? RR_CALL_ERROR : RR_CALL_OK;
}
