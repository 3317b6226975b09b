/* The write hook's command scanner (pool/hygiene.c) under any bytes: what a
 * borrower hands hiredis to send may be anything (redisAppendFormattedCommand
 * takes raw text). It must never read outside the buffer, and every command
 * hiredis itself formats must be counted once and parsed. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "pool/hygiene.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_ARGS 8

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Raw bytes: any verdict, no crash. A copy of exactly size bytes, so
     * the sanitizer sees a read one past the end. */
    char *raw = malloc(size ? size : 1);
    if (raw == NULL)
        return 0;
    memcpy(raw, data, size);
    unsigned dirt = 0;
    long commands = 0;
    spool_hygiene_scan(raw, size, &dirt, &commands);
    if (commands < 0 || (unsigned long)commands > size / 4)
        __builtin_trap(); /* "*1\r\n" at least per command */
    free(raw);

    /* The same bytes as the arguments of one command (split at NUL),
     * formatted by hiredis: one command, parsed. */
    const char *argv[MAX_ARGS];
    size_t argvlen[MAX_ARGS];
    int argc = 0;
    size_t start = 0;
    for (size_t i = 0; i <= size && argc < MAX_ARGS; i++) {
        if (i == size || data[i] == 0) {
            argv[argc] = (const char *)data + start;
            argvlen[argc] = i - start;
            argc++;
            start = i + 1;
        }
    }
    char *cmd = NULL;
    long long len = redisFormatCommandArgv(&cmd, argc, argv, argvlen);
    if (len < 0)
        return 0;
    dirt = 0;
    commands = 0;
    spool_hygiene_scan(cmd, (size_t)len, &dirt, &commands);
    if (commands != 1 || (dirt & SPOOL_DIRT_UNPARSED))
        __builtin_trap();
    redisFreeCommand(cmd);
    return 0;
}
