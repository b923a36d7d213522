/* bench_env.h - the machine part of the "# env" line shared by the library benchmarks
 * (crypto_bench.c, mls_bench.c): UTC date, kernel, CPU model (commas made ';' so the line
 * stays one CSV-like record) and online CPUs. Header-only; include after <stdio.h>,
 * <string.h>, <time.h>, <unistd.h> and <sys/utsname.h>. */
#ifndef HM_BENCH_ENV_H
#define HM_BENCH_ENV_H

/* Writes "date=…,host=SYS REL MACH,cpu=…,online_cpus=N" into out. */
static void bench_env_machine(char *out, size_t cap) {
  char cpu[256] = "unknown";
  FILE *f = fopen("/proc/cpuinfo", "r");
  if (f) {
    char line[512];
    while (fgets(line, sizeof line, f))
      if (!strncmp(line, "model name", 10)) {
        char *v = strchr(line, ':');
        if (v) {
          v += 2;
          v[strcspn(v, "\n")] = 0;
          for (char *q = v; *q; q++)
            if (*q == ',') *q = ';';
          snprintf(cpu, sizeof cpu, "%s", v);
        }
        break;
      }
    fclose(f);
  }
  struct utsname u;
  uname(&u);
  time_t t = time(NULL);
  char date[32];
  strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
  snprintf(out, cap, "date=%s,host=%s %s %s,cpu=%s,online_cpus=%ld", date, u.sysname, u.release, u.machine, cpu,
           sysconf(_SC_NPROCESSORS_ONLN));
}

#endif
