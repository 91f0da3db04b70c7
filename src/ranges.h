/*
 * The transfer of one download (download.h) into STEM.part: one stream, or
 * fetch.segments ranges in parallel for large files from servers that honour
 * Range.
 */
#ifndef INGESTD_RANGES_H
#define INGESTD_RANGES_H

#include "download.h"

enum ranges_result {
	RANGES_DONE = 40,	/* every byte is in */
	RANGES_RESTART,		/* start over: the file changed, or Range was not honoured */
	RANGES_FAILED		/* f->failed says how (FETCH_BAD, _TEMP, _INTERRUPTED) */
};

/* Reset f's ranges for a download from byte 0 (the size not yet known). */
void ranges_start_fresh(struct fetch *f);

/* Run the ranges until all are in, or a reason to stop (then f->reason is set). */
enum ranges_result ranges_transfer(struct fetch *f);

/*
 * After a failed attempt whose retry is due: give back the blocks reserved
 * for the bytes not yet downloaded, so a download that waits pins only what
 * its resume needs.
 */
void ranges_release(struct fetch *f);

/* Stop every running transfer of f. */
void ranges_stop_all(struct fetch *f);

#endif
