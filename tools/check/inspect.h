/* inspect.h: sentinel-pool-check's deployment mode, read-only: what every
 * sentinel and every data node of an existing deployment says, checked
 * against each other, as a table and a list of warnings.
 *
 * Exit status of ck_inspect_main(): 0 no warning, 1 warnings, 2 the
 * deployment could not be inspected (bad options, no sentinel reachable,
 * unknown master name, credentials refused, TLS refused). */
#ifndef CK_INSPECT_H
#define CK_INSPECT_H

/* 1 when argv asks for deployment mode (--sentinels is given). */
int ck_is_deployment_mode(int argc, char **argv);
int ck_inspect_main(int argc, char **argv);

#endif
