/*
 * The delete of an S3 object once its packet is durable (delete:
 * after_commit), made so that nothing is deleted that was not fetched.
 * Servers differ: radosgw ignores If-Match on DELETE, so the condition
 * cannot be left to the server. When the GET named a version
 * (x-amz-version-id), exactly that version is deleted; otherwise a HEAD
 * first, and no delete when the ETag is not the one fetched.
 */
#ifndef INGESTD_S3_DELETE_H
#define INGESTD_S3_DELETE_H

#include "download.h"

/*
 * Delete f's object if it is still the one fetched, and tell the ledger so
 * that what is in the bucket now is fetched as new. Never fails the packet:
 * FETCH_OK (deleted, gone, skipped, or given up and logged), or
 * FETCH_INTERRUPTED (the state says commit: the delete is redone).
 */
enum fetch_result s3_delete_fetched(struct fetch *f);

#endif
