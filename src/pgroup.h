/*
 * The daemon's process group, and the terminal it may have started on.
 *
 * The supervisor heads a process group of its own before anything else:
 * under runsv it shares one with runsv and the log process, and its stop
 * kills every other member of its group. When it was started in the
 * terminal's foreground, its new group is handed the terminal, so that ^C
 * reaches it even under a wrapper (make run, sh -c, tmux), and the terminal
 * goes back to the group that had it at exit.
 */
#ifndef INGESTD_PGROUP_H
#define INGESTD_PGROUP_H

#include <sys/types.h>

struct pgroup {
	int   tty;	/* stdin's terminal, handed to our group; -1 none */
	pid_t before;	/* the group that had it */
};

/*
 * Lead a process group (setpgid), take the terminal when ours to take.
 * 0, or -1 with errno when the process cannot lead a group of its own: the
 * caller must not run then, since its stop would kill its parent's group.
 */
int  pgroup_own(struct pgroup *pg);

/* Give the terminal back, if taken. Safe to call twice. */
void pgroup_release(struct pgroup *pg);

#endif
