/*
 * Privileges: become the service user before the spool is touched, keep other
 * users out of what the daemon creates, and never run handlers as root by
 * accident.
 */
#ifndef INGESTD_PRIV_H
#define INGESTD_PRIV_H

#include <stddef.h>

/*
 * The umask priv_drop() sets: directories the daemon makes (inbox/ work/ done/
 * failed/, job directories) come out 0750, files (journal, records, the lock
 * file) 0640 or tighter, so no one outside the service user and its group can
 * read a packet. Handlers inherit it.
 */
#define PRIV_UMASK 027

/*
 * Called once by the supervisor, after the config is loaded and before the
 * spool is opened or anything is forked. Sets the umask to PRIV_UMASK, then:
 *  - as root with user set: initgroups, setgid and setuid to that user, and
 *    checks that root cannot be regained;
 *  - as root afterwards (no user, or user is root) with a handler configured
 *    and !allow_root: refuses, because the handler would run as root;
 *  - not root: user must be NULL or name the user we already run as (as under
 *    chpst -u), since an unprivileged process cannot switch users.
 * Returns 0, or the sysexits.h status the daemon should exit with (EX_CONFIG,
 * EX_NOPERM, EX_OSERR) with a one-line reason in err (always NUL-terminated
 * when errlen > 0). Logs one info line when it changed users, nothing else.
 */
int priv_drop(const char *user, int allow_root, int have_handler, char *err,
    size_t errlen);

#endif
