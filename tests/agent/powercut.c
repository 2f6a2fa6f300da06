/* A power-cut model for one directory, loaded with LD_PRELOAD (tests/agent/test_powercut.py).
 *
 * What survives a power cut is what was synced, and nothing else:
 *   - a file's *content* survives as it was at its last fsync/fdatasync (kept per inode in
 *     $POWERCUT_SHADOW/ino-N);
 *   - the directory's *names* (creations, unlinks, renames) survive as they were at the last
 *     fsync of the directory itself (kept in $POWERCUT_SHADOW/names: "inode name" lines).
 * After every sync of something in $POWERCUT_DIR, the disk a reboot would find is written out
 * as $POWERCUT_SHADOW/snap-NNNNNN/ (each durable name with its inode's durable content, empty
 * if that inode was never synced), and $POWERCUT_SHADOW/count holds the number of snapshots:
 * a power cut between sync N and sync N+1 leaves exactly snap-N on the disk.
 * Real files are written as usual; the test only ever reopens snapshots.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int (*real_fsync)(int);
static int (*real_fdatasync)(int);
static int count;

static void copy_fd(int in, const char *to) {
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s.tmp", to);
    int out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (out < 0) return;
    char buf[65536];
    ssize_t n;
    off_t at = 0;
    while ((n = pread(in, buf, sizeof buf, at)) > 0) {
        if (write(out, buf, (size_t)n) != n) break;
        at += n;
    }
    close(out);
    rename(tmp, to);
}

static void snapshot(const char *shadow) {
    char path[PATH_MAX], dir[PATH_MAX];
    count++;
    snprintf(dir, sizeof dir, "%s/snap-%06d", shadow, count);
    mkdir(dir, 0700);
    snprintf(path, sizeof path, "%s/names", shadow);
    FILE *names = fopen(path, "r");
    if (names) {
        unsigned long ino;
        char name[NAME_MAX + 1];
        while (fscanf(names, "%lu %255[^\n]\n", &ino, name) == 2) {
            char src[PATH_MAX], dst[PATH_MAX];
            snprintf(src, sizeof src, "%s/ino-%lu", shadow, ino);
            snprintf(dst, sizeof dst, "%s/%s", dir, name);
            int in = open(src, O_RDONLY);
            if (in >= 0) {
                copy_fd(in, dst);
                close(in);
            } else {
                close(open(dst, O_WRONLY | O_CREAT | O_TRUNC, 0600)); /* named, never synced */
            }
        }
        fclose(names);
    }
    snprintf(path, sizeof path, "%s/count", shadow);
    FILE *f = fopen(path, "w");
    if (f) {
        fprintf(f, "%d\n", count);
        fclose(f);
    }
}

static void record(int fd) {
    const char *dir = getenv("POWERCUT_DIR"), *shadow = getenv("POWERCUT_SHADOW");
    if (!dir || !shadow) return;
    char link[64], path[PATH_MAX], dst[PATH_MAX];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, path, sizeof path - 1);
    if (n < 0) return;
    path[n] = 0;
    struct stat st;
    if (fstat(fd, &st)) return;
    size_t len = strlen(dir);
    if (S_ISDIR(st.st_mode) && strcmp(path, dir) == 0) {
        snprintf(dst, sizeof dst, "%s/names.tmp", shadow);
        FILE *out = fopen(dst, "w");
        DIR *d = opendir(dir);
        if (!out || !d) return;
        struct dirent *e;
        while ((e = readdir(d))) {
            struct stat s;
            if (fstatat(dirfd(d), e->d_name, &s, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(s.st_mode))
                fprintf(out, "%lu %s\n", (unsigned long)s.st_ino, e->d_name);
        }
        closedir(d);
        fclose(out);
        char final[PATH_MAX];
        snprintf(final, sizeof final, "%s/names", shadow);
        rename(dst, final);
    } else if (S_ISREG(st.st_mode) && strncmp(path, dir, len) == 0 && path[len] == '/') {
        /* the fd itself: an unlinked file's content is still readable through it */
        snprintf(dst, sizeof dst, "%s/ino-%lu", shadow, (unsigned long)st.st_ino);
        copy_fd(fd, dst);
    } else {
        return;
    }
    snapshot(shadow);
}

int fsync(int fd) {
    if (!real_fsync) real_fsync = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    int rc = real_fsync(fd);
    if (rc == 0) record(fd);
    return rc;
}

int fdatasync(int fd) {
    if (!real_fdatasync) real_fdatasync = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
    int rc = real_fdatasync(fd);
    if (rc == 0) record(fd);
    return rc;
}
