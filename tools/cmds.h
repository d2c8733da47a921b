/* SPDX-License-Identifier: MIT */
/*
 * The devmem command's subcommands. Each takes its own argv (argv[0] is the
 * subcommand's name) and returns the exit status.
 */
#ifndef DEVMEM_TOOL_CMDS_H
#define DEVMEM_TOOL_CMDS_H

int cmd_demo(int argc, char **argv);
int cmd_recv(int argc, char **argv);
int cmd_send(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_tour(int argc, char **argv);
int cmd_rdma(int argc, char **argv);
int cmd_run(int argc, char **argv);

#endif
