#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "children.h"
#include "clock.h"
#include "log.h"

void
children_init(struct children *ch, struct scoreboard *sb, const struct children_ops *ops)
{
	memset(ch->kids, 0, sizeof(ch->kids));
	ch->sb = sb;
	ch->ops = *ops;
	ch->generation = 1;
}

static int
free_slot(const struct children *ch)
{
	int i;

	for (i = 0; i < SB_SLOTS; i++)
		if (ch->kids[i].role == ROLE_NONE)
			return i;
	return -1;
}

static int
spawn(struct children *ch, int slot)
{
	struct child *k = &ch->kids[slot];
	struct sb_slot *ss = &ch->sb->slot[slot];
	pid_t pid;

	/* Clear the slot before the child can write to it. */
	memset(ss, 0, sizeof(*ss));
	ss->generation = k->generation;
	ss->role = k->role == ROLE_WATCHER ? SB_ROLE_WATCHER :
	    k->role == ROLE_WORKER ? SB_ROLE_WORKER : SB_ROLE_REMOTE;
	ss->state = SB_IDLE;
	ss->started_ms = sb_now_ms();
	pid = fork();
	if (pid == -1)
		return -1;
	if (pid == 0) {
		ch->ops.run(ch->ops.arg, k, slot);
		_exit(127);
	}
	ss->pid = pid;
	k->pid = pid;
	k->started = clock_mono_ms();
	k->due = 0;
	log_info("event=spawn child_role=%s child_pid=%ld slot=%d generation=%u",
	    ch->ops.name(ch->ops.arg, k), (long)pid, slot, k->generation);
	return 0;
}

int
children_add(struct children *ch, enum role role, int idx)
{
	int slot = free_slot(ch);

	if (slot < 0) {
		log_warnx("event=spawn child_role=%d error=\"scoreboard full\"", (int)role);
		return -1;
	}
	memset(&ch->kids[slot], 0, sizeof(ch->kids[slot]));
	ch->kids[slot].role = role;
	ch->kids[slot].idx = idx;
	ch->kids[slot].generation = ch->generation;
	if (spawn(ch, slot) == -1) {
		log_warn("event=spawn child_role=%s", ch->ops.name(ch->ops.arg, &ch->kids[slot]));
		/* Keep the slot and try again later. */
		ch->kids[slot].due = clock_mono_ms() + RESPAWN_MIN_MS;
		ch->kids[slot].delay = RESPAWN_MIN_MS;
	}
	return slot;
}

static void
release_slot(struct children *ch, int slot)
{
	memset(&ch->kids[slot], 0, sizeof(ch->kids[slot]));
	memset(&ch->sb->slot[slot], 0, sizeof(ch->sb->slot[slot]));
}

/*
 * A crash loop must cost a growing pause, never a busy CPU. A child that got
 * work done before it died (jobs > 0) is not looping, however young.
 */
static void
schedule_respawn(struct child *k, int crashed, uint64_t jobs)
{
	uint64_t now = clock_mono_ms();

	if (crashed && now - k->started < YOUNG_MS && jobs == 0)
		k->delay = k->delay ? k->delay * 2 : RESPAWN_MIN_MS;
	else
		k->delay = 0;
	if (k->delay > RESPAWN_MAX_MS)
		k->delay = RESPAWN_MAX_MS;
	k->due = now + k->delay;
	if (k->due == 0)
		k->due = 1;
}

static void
describe(int status, char *buf, size_t len)
{
	if (WIFSIGNALED(status))
		snprintf(buf, len, "signal=%s", sigabbrev_np(WTERMSIG(status)) ?
		    sigabbrev_np(WTERMSIG(status)) : "?");
	else
		snprintf(buf, len, "status=%d", WEXITSTATUS(status));
}

static int
find_slot(const struct children *ch, pid_t pid)
{
	int slot;

	for (slot = 0; slot < SB_SLOTS; slot++)
		if (ch->kids[slot].pid == pid)
			return slot;
	return -1;
}

const struct child *
children_find(const struct children *ch, pid_t pid)
{
	int slot = pid > 0 ? find_slot(ch, pid) : -1;

	return slot < 0 ? NULL : &ch->kids[slot];
}

unsigned
children_reap(struct children *ch, int shutting_down)
{
	unsigned workers = 0;
	int status, slot;
	char how[32];
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		struct child *k;
		const char *role;
		uint64_t jobs;
		int crashed;

		if ((slot = find_slot(ch, pid)) < 0)
			continue;	/* an orphan of a handler, reparented to us */
		k = &ch->kids[slot];
		role = ch->ops.name(ch->ops.arg, k);
		describe(status, how, sizeof(how));
		crashed = !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
		workers += k->role == ROLE_WORKER;
		if (!shutting_down)
			ch->ops.died(ch->ops.arg, k, slot, crashed);
		k->pid = 0;
		jobs = ch->sb->slot[slot].jobs_done + ch->sb->slot[slot].jobs_failed;
		/* Dead is dead in the scoreboard too, even while a respawn waits. */
		ch->sb->slot[slot].pid = 0;
		/* a download it held is gone with it: its reservation too */
		__atomic_store_n(&ch->sb->slot[slot].reserved, 0, __ATOMIC_SEQ_CST);
		__atomic_store_n(&ch->sb->slot[slot].state, SB_FREE, __ATOMIC_RELEASE);
		if (shutting_down) {
			/* how: describe()'s status=N or signal=NAME, the daemon's words */
			log_debug("event=exit child_role=%s child_pid=%ld slot=%d %s", role,
			    (long)pid, slot, how);	/* logcheck: safe */
			continue;
		}
		if (k->retiring || (k->role == ROLE_WORKER && k->generation != ch->generation)) {
			log_info("event=retired child_role=%s child_pid=%ld slot=%d %s", role,
			    (long)pid, slot, how);	/* logcheck: safe */
			release_slot(ch, slot);
			continue;
		}
		__atomic_add_fetch(&ch->sb->hdr.restarts, 1, __ATOMIC_RELAXED);
		schedule_respawn(k, crashed, jobs);
		if (crashed)
			log_warnx("event=exit child_role=%s child_pid=%ld slot=%d %s respawn_ms=%llu",
			    role, (long)pid, slot, how, (unsigned long long)k->delay); /* logcheck: safe */
		else
			log_info("event=recycle child_role=%s child_pid=%ld slot=%d", role,
			    (long)pid, slot);
	}
	return workers;
}

void
children_respawn(struct children *ch)
{
	uint64_t now = clock_mono_ms();
	int i;

	for (i = 0; i < SB_SLOTS; i++) {
		struct child *k = &ch->kids[i];

		if (k->role == ROLE_NONE || k->pid || !k->due || k->due > now)
			continue;
		if (spawn(ch, i) == -1) {
			log_warn("event=spawn child_role=%s slot=%d", ch->ops.name(ch->ops.arg, k), i);
			k->started = now;
			schedule_respawn(k, 1, 0);
		}
	}
}

int
children_timeout_ms(const struct children *ch)
{
	uint64_t now = clock_mono_ms(), first = UINT64_MAX;
	int i;

	for (i = 0; i < SB_SLOTS; i++) {
		const struct child *k = &ch->kids[i];

		if (k->role != ROLE_NONE && !k->pid && k->due && k->due < first)
			first = k->due;
	}
	if (first == UINT64_MAX)
		return -1;
	return first <= now ? 0 : (int)(first - now);
}

unsigned
children_count(const struct children *ch, enum role role, int current_only, int alive_only)
{
	unsigned n = 0;
	int i;

	for (i = 0; i < SB_SLOTS; i++) {
		const struct child *k = &ch->kids[i];

		if (k->role != role || (alive_only && !k->pid))
			continue;
		if (current_only && (k->retiring || k->generation != ch->generation))
			continue;
		n++;
	}
	return n;
}

void
children_signal(const struct children *ch, enum role role, int sig)
{
	int i;

	for (i = 0; i < SB_SLOTS; i++)
		if (ch->kids[i].role == role && ch->kids[i].pid)
			kill(ch->kids[i].pid, sig);
}

void
children_retire_one(struct children *ch)
{
	int i, pick = -1;

	/* An idle one if there is one: nobody waits for its job. */
	for (i = SB_SLOTS - 1; i >= 0; i--) {
		struct child *k = &ch->kids[i];

		if (k->role != ROLE_WORKER || k->retiring || k->generation != ch->generation)
			continue;
		if (pick < 0 || (ch->sb->slot[i].state == SB_IDLE &&
		    ch->sb->slot[pick].state != SB_IDLE))
			pick = i;
	}
	if (pick < 0)
		return;
	ch->kids[pick].retiring = 1;
	if (ch->kids[pick].pid) {
		ch->sb->slot[pick].retiring = 1;
		kill(ch->kids[pick].pid, SIGTERM);
	} else {
		release_slot(ch, pick);
	}
}

void
children_retire_all(struct children *ch, int watcher)
{
	int i;

	ch->generation++;
	for (i = 0; i < SB_SLOTS; i++) {
		struct child *k = &ch->kids[i];

		if (k->role == ROLE_WORKER || k->role == ROLE_REMOTE || k->role == ROLE_JANITOR ||
		    (k->role == ROLE_WATCHER && watcher)) {
			k->retiring = 1;
			if (k->pid) {
				if (k->role == ROLE_WORKER)
					ch->sb->slot[i].retiring = 1;
				/* Workers finish their job; the others keep nothing in memory. */
				kill(k->pid, k->role == ROLE_WORKER ? SIGTERM : SIGKILL);
			} else {
				release_slot(ch, i);
			}
		}
	}
}

size_t
children_pids(const struct children *ch, pid_t *v)
{
	size_t n = 0;
	int i;

	for (i = 0; i < SB_SLOTS; i++)
		if (ch->kids[i].pid)
			v[n++] = ch->kids[i].pid;
	return n;
}
