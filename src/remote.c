/*
 * The remote children: one S3 source per sources: entry, then the notifier
 * when notify.url is set. Each is its own process so that a slow bucket or
 * a dead webhook receiver never holds up a worker; what they must not
 * forget is on disk (the ledgers, the notifier's offset), so SIGKILL at
 * shutdown loses nothing.
 */
#include <signal.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "notify.h"
#include "remote.h"
#include "source.h"

int
remote_children(const struct conf *c)
{
	return (int)c->sources.n + (c->notify.url != NULL);
}

const char *
remote_role(const struct conf *c, int idx)
{
	return idx >= 0 && (size_t)idx < c->sources.n ? "source" : "notifier";
}

void
remote_main(const struct conf *c, const struct spool *s, mqd_t q, int idx, pid_t supervisor)
{
	sigset_t none;

	(void)q;	/* requests reach the workers through the inbox and the watcher */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != supervisor)
		_exit(0);
	/* Nothing here is handled in a loop: TERM and INT may simply end us. */
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (idx >= 0 && (size_t)idx < c->sources.n)
		source_main(c, s, (size_t)idx);
	if (c->notify.url != NULL && (size_t)idx == c->sources.n)
		notify_main(c, s);
	_exit(0);
}
