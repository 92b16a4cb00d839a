/* Build helper: embed a text file as a NUL-terminated C string. */
#include <stdio.h>

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: rr-embed INPUT OUTPUT SYMBOL\n");
        return 2;
    }
    FILE *in = fopen(argv[1], "rb");
    FILE *out = fopen(argv[2], "wb");
    if (!in || !out) {
        perror("rr-embed");
        return 1;
    }
    fprintf(out, "/* Generated from %s. Do not edit. */\nconst char %s[] = {\n", argv[1], argv[3]);
    int c, n = 0;
    while ((c = fgetc(in)) != EOF)
        fprintf(out, "%d,%s", c, (++n % 20) ? "" : "\n");
    fprintf(out, "0};\n");
    fclose(in);
    return fclose(out) ? 1 : 0;
}
