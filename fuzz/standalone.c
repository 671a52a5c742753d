/* Stand-alone corpus driver: runs LLVMFuzzerTestOneInput on every file named
 * on the command line, or on every regular file in a named directory, so
 * the seed corpora run as ordinary tests without a fuzzing engine. Exits 1
 * when nothing could be read or a path is unreadable; a violated property
 * aborts inside the target. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path) {
  FILE *f = fopen(path, "rb");
  unsigned char *buf = NULL;
  size_t len = 0, cap = 0, n;
  if (!f) {
    fprintf(stderr, "cannot open %s\n", path);
    return -1;
  }
  for (;;) {
    if (len == cap) {
      unsigned char *nb;
      cap = cap ? cap * 2 : 4096;
      nb = realloc(buf, cap);
      if (!nb) {
        free(buf);
        fclose(f);
        return -1;
      }
      buf = nb;
    }
    n = fread(buf + len, 1, cap - len, f);
    len += n;
    if (n == 0) break;
  }
  if (ferror(f)) {
    fprintf(stderr, "cannot read %s\n", path);
    free(buf);
    fclose(f);
    return -1;
  }
  fclose(f);
  LLVMFuzzerTestOneInput(buf, len);
  free(buf);
  return 0;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every regular file in dir, in name order; returns files run or -1. */
static long run_dir(const char *dir) {
  DIR *d = opendir(dir);
  struct dirent *de;
  char **names = NULL;
  size_t count = 0, cap = 0, i;
  long ran = 0;
  if (!d) return -1;
  while ((de = readdir(d)) != NULL) {
    if (de->d_name[0] == '.') continue;
    if (count == cap) {
      char **nn;
      cap = cap ? cap * 2 : 64;
      nn = realloc(names, cap * sizeof(*names));
      if (!nn) break;
      names = nn;
    }
    names[count] = malloc(strlen(dir) + strlen(de->d_name) + 2);
    if (!names[count]) break;
    sprintf(names[count], "%s/%s", dir, de->d_name);
    count++;
  }
  closedir(d);
  if (count) qsort(names, count, sizeof(*names), cmp_str);
  for (i = 0; i < count; i++) {
    struct stat st;
    if (stat(names[i], &st) == 0 && S_ISREG(st.st_mode)) {
      if (run_file(names[i]) != 0) ran = -1;
      else if (ran >= 0) ran++;
    }
    free(names[i]);
  }
  free(names);
  return ran;
}

int main(int argc, char **argv) {
  long total = 0;
  int i;
  if (argc < 2) {
    fprintf(stderr, "usage: %s <corpus dir or file>...\n", argv[0]);
    return 2;
  }
  for (i = 1; i < argc; i++) {
    struct stat st;
    if (stat(argv[i], &st) != 0) {
      fprintf(stderr, "cannot stat %s\n", argv[i]);
      return 1;
    }
    if (S_ISDIR(st.st_mode)) {
      long n = run_dir(argv[i]);
      if (n < 0) return 1;
      total += n;
    } else {
      if (run_file(argv[i]) != 0) return 1;
      total++;
    }
  }
  printf("%ld input(s) ran\n", total);
  return total > 0 ? 0 : 1;
}
