/* controller.h - droverd --controller (cmd/controller.c). */
#ifndef DV_CMD_CONTROLLER_H
#define DV_CMD_CONTROLLER_H

#include "core/config.h"

/* Run the controller until SIGTERM/SIGINT; returns droverd's exit status. */
int dv_controller_main(const dv_config *cfg);

#endif
