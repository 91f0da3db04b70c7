#include <errno.h>
#include <fcntl.h>
#include <termios.h>
#include <unistd.h>

#include "log.h"
#include "pgroup.h"

int
pgroup_own(struct pgroup *pg)
{
	pid_t fg = -1;
	int e;

	pg->tty = -1;
	pg->before = -1;
	if (isatty(STDIN_FILENO) && (fg = tcgetpgrp(STDIN_FILENO)) != getpgrp())
		fg = -1;	/* started in the background: the terminal is not ours to take */
	if (getpgrp() != getpid() && setpgid(0, 0) == -1 && getsid(0) != getpid()) {
		e = errno;
		log_warn("event=setpgid");
		errno = e;
	}
	if (getpgrp() != getpid())
		return -1;
	if (fg > 0) {
		pg->tty = fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 3);
		/* SIGTTOU is blocked (the launcher, main), so a background group may do this. */
		if (pg->tty >= 0 && tcsetpgrp(pg->tty, getpid()) == 0) {
			pg->before = fg;
		} else if (pg->tty >= 0) {
			close(pg->tty);
			pg->tty = -1;
		}
	}
	return 0;
}

void
pgroup_release(struct pgroup *pg)
{
	if (pg->tty < 0)
		return;
	if (tcgetpgrp(pg->tty) == getpgrp())
		(void)tcsetpgrp(pg->tty, pg->before);
	close(pg->tty);
	pg->tty = -1;
}
