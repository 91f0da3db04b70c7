/*
 * The transfer of one download (download.h) into STEM.part: one stream, or
 * fetch.segments ranges in parallel for large files from servers that honour
 * Range.
 */
#ifndef INGESTD_RANGES_H
#define INGESTD_RANGES_H

#include "download.h"

#define RANGES_RESTART 11	/* start over: the file changed, or Range was not honoured */

/* Reset f's ranges for a download from byte 0 (the size not yet known). */
void ranges_start_fresh(struct fetch *f);

/*
 * Run the ranges until all are in. Returns PACKET_OK, PACKET_BAD, PACKET_TEMP
 * (reason set), FETCH_INTERRUPTED or RANGES_RESTART.
 */
int  ranges_transfer(struct fetch *f);

/* Stop every running transfer of f. */
void ranges_stop_all(struct fetch *f);

#endif
