/* Marks one symbol-version requirement (e.g. GLIBCXX_3.4.32) of an ELF64 shared library as weak
 * (VER_FLG_WEAK), so the dynamic loader treats a missing version as non-fatal.
 * Usage: weaken_verneed <file.so> <version-name>. Exit 0 when marked (or already weak), 3 when absent. */
#include <elf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
    if (argc != 3) { fprintf(stderr, "usage: %s <file.so> <version>\n", argv[0]); return 2; }
    FILE *f = fopen(argv[1], "r+b");
    if (!f) { perror(argv[1]); return 2; }
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc((size_t)size);
    if (!buf || fread(buf, 1, (size_t)size, f) != (size_t)size) { fprintf(stderr, "read failed\n"); return 2; }

    Elf64_Ehdr *eh = (Elf64_Ehdr *)buf;
    if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 || eh->e_ident[EI_CLASS] != ELFCLASS64) {
        fprintf(stderr, "%s: not an ELF64 file\n", argv[1]); return 2;
    }
    Elf64_Shdr *sh = (Elf64_Shdr *)(buf + eh->e_shoff);
    for (int i = 0; i < eh->e_shnum; i++) {
        if (sh[i].sh_type != SHT_GNU_verneed) continue;
        const char *strtab = (const char *)(buf + sh[sh[i].sh_link].sh_offset);
        size_t need_off = sh[i].sh_offset;
        for (;;) {
            Elf64_Verneed *vn = (Elf64_Verneed *)(buf + need_off);
            size_t aux_off = need_off + vn->vn_aux;
            for (int j = 0; j < vn->vn_cnt; j++) {
                Elf64_Vernaux *va = (Elf64_Vernaux *)(buf + aux_off);
                if (strcmp(strtab + va->vna_name, argv[2]) == 0) {
                    if (!(va->vna_flags & VER_FLG_WEAK)) {
                        va->vna_flags |= VER_FLG_WEAK;
                        fseek(f, (long)aux_off, SEEK_SET);
                        fwrite(va, sizeof *va, 1, f);
                    }
                    fclose(f);
                    return 0;
                }
                if (!va->vna_next) break;
                aux_off += va->vna_next;
            }
            if (!vn->vn_next) break;
            need_off += vn->vn_next;
        }
    }
    fclose(f);
    return 3;
}
