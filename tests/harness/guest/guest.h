/* guest.h - the heartbeat block of the drover test guest, shared by the
 * guest (tests/harness/guest/guest.c) and the tests that read it from the
 * host with virDomainMemoryPeek(VIR_MEMORY_PHYSICAL).
 *
 * All fields are little-endian 32-bit words written with single aligned
 * stores, so a peek from the host never sees half a value. */
#ifndef DV_GUEST_H
#define DV_GUEST_H

#define DVG_BEAT_ADDR 0x7000u     /* guest-physical; free low memory under multiboot */
#define DVG_BEAT_SIZE 32u
#define DVG_MAGIC 0x42475644u     /* "DVGB" */

#define DVG_PHASE_FILLING 1u      /* writing pseudo-random data over all RAM */
#define DVG_PHASE_RUNNING 2u      /* re-dirtying the working set forever */

/* word offsets inside the block */
#define DVG_W_MAGIC 0             /* DVG_MAGIC once the guest has started */
#define DVG_W_PHASE 1
#define DVG_W_BOOT_ID 2           /* random per boot: a reboot changes it */
#define DVG_W_RAM_MIB 3           /* RAM the guest saw (multiboot mem_upper + 1 MiB) */
#define DVG_W_WSS_MIB 4           /* working set re-dirtied each sweep */
#define DVG_W_FILLED_MIB 5        /* fill progress */
#define DVG_W_BEATS 6             /* +1 per sweep of the working set */

#endif
