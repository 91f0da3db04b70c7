#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sysexits.h>
#include <unistd.h>

#include "log.h"
#include "priv.h"

static int say(char *err, size_t errlen, int status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int
say(char *err, size_t errlen, int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (errlen > 0)
		(void)vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return status;
}

/* EPERM from a credential call means a missing capability (a container, a
 * seccomp policy), which the admin fixes differently from a broken system. */
static int
oserr(int e)
{
	return e == EPERM ? EX_NOPERM : EX_OSERR;
}

static int
become(const char *user, uid_t uid, gid_t gid, char *err, size_t errlen)
{
	uid_t ruid, euid, suid;
	gid_t rgid, egid, sgid;

	/* Groups first: once the uid is gone, so is the right to change them.
	 * initgroups also drops root's own supplementary groups. */
	if (initgroups(user, gid) == -1)
		return say(err, errlen, oserr(errno), "initgroups %s: %s", user,
		    strerror(errno));
	if (setresgid(gid, gid, gid) == -1)
		return say(err, errlen, oserr(errno), "setresgid %lu: %s",
		    (unsigned long)gid, strerror(errno));
	if (setresuid(uid, uid, uid) == -1)
		return say(err, errlen, oserr(errno), "setresuid %lu: %s",
		    (unsigned long)uid, strerror(errno));

	/* Verify rather than trust: a saved uid of 0 left behind would let any
	 * later bug in a worker become root again. */
	if (getresuid(&ruid, &euid, &suid) == -1 || getresgid(&rgid, &egid, &sgid) == -1)
		return say(err, errlen, EX_OSERR, "getresuid: %s", strerror(errno));
	if (ruid != uid || euid != uid || suid != uid ||
	    rgid != gid || egid != gid || sgid != gid)
		return say(err, errlen, EX_OSERR,
		    "switching to user %s left uids %lu/%lu/%lu gids %lu/%lu/%lu", user,
		    (unsigned long)ruid, (unsigned long)euid, (unsigned long)suid,
		    (unsigned long)rgid, (unsigned long)egid, (unsigned long)sgid);
	if (setuid(0) != -1 || seteuid(0) != -1 || (gid != 0 && setgid(0) != -1))
		return say(err, errlen, EX_OSERR,
		    "could regain root after switching to user %s", user);
	return 0;
}

int
priv_drop(const char *user, int allow_root, int have_handler, char *err, size_t errlen)
{
	const struct passwd *pw;
	uid_t uid = 0;
	gid_t gid = 0;
	int named = (user != NULL && *user != '\0');
	int rc;

	if (errlen > 0)
		err[0] = '\0';
	(void)umask(PRIV_UMASK);

	if (named) {
		errno = 0;
		pw = getpwnam(user);
		if (pw == NULL) {
			/* getpwnam(3): these all mean "not found", not a failure. */
			if (errno == 0 || errno == ENOENT || errno == ESRCH ||
			    errno == EBADF || errno == EPERM)
				return say(err, errlen, EX_CONFIG, "user %s: no such user",
				    user);
			return say(err, errlen, EX_OSERR, "user %s: lookup failed: %s",
			    user, strerror(errno));
		}
		/* Copied out: getpwnam's buffer is shared with initgroups' lookups. */
		uid = pw->pw_uid;
		gid = pw->pw_gid;
	}

	if (geteuid() == 0) {
		if (named && uid != 0) {
			char q[256];

			if ((rc = become(user, uid, gid, err, errlen)) != 0)
				return rc;
			log_info("event=priv user=%s uid=%lu gid=%lu",
			    log_quote(q, sizeof(q), user), (unsigned long)uid,
			    (unsigned long)gid);
			return 0;
		}
		if (have_handler && !allow_root)
			return say(err, errlen, EX_CONFIG,
			    "handler would run as root; set user: or allow_root: true");
		return 0;
	}

	/* Unprivileged: someone else (chpst -u, setpriv, su) chose our user.
	 * Accept that only when it is the one the config asks for. */
	if (named && (getuid() != uid || geteuid() != uid))
		return say(err, errlen, EX_NOPERM,
		    "user %s: running as uid %lu, which cannot switch users; "
		    "start as root or as %s (e.g. chpst -u %s)", user,
		    (unsigned long)geteuid(), user, user);
	return 0;
}
