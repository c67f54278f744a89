/*
 * exporter/h2o-private/khash.h - stand-in for klib's khash.h, which h2o 2.2.5's
 * installed <h2o/http2_internal.h> includes but Debian's libh2o-dev does not
 * ship.
 *
 * h2ointernals.c needs that header for the layout of h2o_http2_conn_t and
 * h2o_http2_stream_t. In them the stream table is only a pointer, so the
 * table's type may stay incomplete here. The one inline function of the header
 * that looks into the table (h2o_http2_conn_get_stream) compiles to a lookup
 * that finds nothing: the exporter never calls it.
 */
#ifndef PEX_KHASH_STANDIN_H
#define PEX_KHASH_STANDIN_H

typedef unsigned int khint_t;
typedef khint_t khiter_t;

#define khash_t(name)                       kh_##name##_t
#define KHASH_MAP_INIT_INT64(name, khval_t) typedef struct kh_##name##_s kh_##name##_t;
#define kh_get(name, h, k)                  ((void)(h), (void)(k), (khiter_t)0)
#define kh_end(h)                           ((void)(h), (khiter_t)0)
#define kh_val(h, x)                        ((void)(h), (void)(x), NULL)

#endif
