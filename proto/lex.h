/* The small lexical rules every parser here shares, written once: literal
 * and prefix matches, printable words, decimal numbers, numbers and ports as
 * a reply carries them (an integer or a string), and word tables. Pure
 * functions. */
#ifndef SPOOL_LEX_H
#define SPOOL_LEX_H

#include <stddef.h>
#include <hiredis/hiredis.h>

/* s[0..len) is exactly lit. */
int spool_mem_is(const char *s, size_t len, const char *lit);
/* s[0..len) begins with prefix (s may be NULL). */
int spool_starts_with(const char *s, size_t len, const char *prefix);
/* Every byte of s[0..len) is printable ASCII; a space only when
 * allow_space. What passes is safe in a log line and as one field of a
 * space-separated event. */
int spool_printable(const char *s, size_t len, int allow_space);
/* Decimal long long with an optional '-', bounds checked: 0 or -1. */
int spool_ll_parse(const char *s, size_t len, long long *out);

/* A bulk or status string reply (NULL-safe). */
int spool_reply_is_str(const redisReply *e);
/* A string reply that is exactly lit. */
int spool_reply_is(const redisReply *e, const char *lit);
/* A number sent as an integer reply or as a bulk/status string: 0 or -1. */
int spool_reply_ll(const redisReply *e, long long *out);
/* A port in [min..SPOOL_PORT_MAX] sent as an integer or as a string of plain digits
 * ("+80", "-0" are not ports); -1 when it is not one. */
int spool_reply_port(const redisReply *e, int min);

/* A word and the bit it stands for: flag words, the keys of a record. */
typedef struct spool_word_bit {
    const char *word;
    unsigned bit;
} spool_word_bit;

/* The bit of s[0..len) in t[0..n), 0 when it is none of the words. */
unsigned spool_word_bit_of(const spool_word_bit *t, size_t n, const char *s, size_t len);

/* Note key bit as seen in *seen: -1 when it was already, since a record
 * that says one thing twice is not trusted. */
static inline int spool_seen_once(unsigned *seen, unsigned bit)
{
    if (*seen & bit)
        return -1;
    *seen |= bit;
    return 0;
}

#endif
