/* guest.c - the drover test guest: a freestanding 32-bit x86 kernel that a
 * multiboot loader (qemu's -kernel, libvirt's <kernel>) boots without disk
 * or network.  It exists to give live-migration tests a guest whose memory
 * is worth copying and whose liveness the host can read:
 *
 *  - it fills all RAM above 4 MiB with pseudo-random words, so pages are not
 *    zero and really have to travel;
 *  - it then re-dirties a working set forever (one word in each of its
 *    pages per sweep), so a migration has to converge against a writer;
 *  - it bumps a counter per sweep in a heartbeat block at a fixed
 *    guest-physical address (guest.h), which the host reads with
 *    virDomainMemoryPeek: a counter that keeps growing with the same boot id
 *    proves the guest kept running across a migration (no reboot).
 *
 * Kernel command line (space separated, all optional):
 *   wss=MiB     working set re-dirtied per sweep (default 16; 0 = none)
 *   delay=N     busy-wait N loop turns after each page (slows dirtying)
 *   fill=0|1    fill RAM first (default 1)
 *   hz=N        one sweep per tick of an N Hz timer, the vCPU halted in
 *               between (default 0: sweep without pause).  A guest that
 *               only has to run somewhere, not to dirty memory fast, then
 *               costs its host next to no CPU instead of a whole core.
 * Progress goes to COM1, which the domain XML sends to a file. */
#include "guest.h"

typedef unsigned int u32;
typedef unsigned short u16;
typedef unsigned char u8;
_Static_assert(sizeof(u32) == 4, "u32 must be 32 bits");

#define MB_HEADER_MAGIC 0x1BADB002u
#define MB_HEADER_MEMINFO (1u << 1)      /* ask the loader for mem_lower/mem_upper */
#define MB_BOOT_MAGIC 0x2BADB002u        /* in %eax when a multiboot loader jumps to us */
#define MB_INFO_HAS_MEM (1u << 0)
#define MB_INFO_HAS_CMDLINE (1u << 2)

#define MIB 0x100000u
#define PAGE 4096u
#define FILL_BASE (4u * MIB)             /* keep clear of us, the loader's info, the cmdline */
#define COM1 0x3f8

struct mb_header {
    u32 magic, flags, checksum;
};

/* The loader looks for this in the first 8 KiB of the file. */
__attribute__((section(".multiboot"), aligned(4), used))
static const struct mb_header mb_header = {
    MB_HEADER_MAGIC, MB_HEADER_MEMINFO, (u32)-(MB_HEADER_MAGIC + MB_HEADER_MEMINFO)
};

#define STACK_SIZE 16384
__attribute__((aligned(16))) unsigned char dvg_stack[STACK_SIZE];

void dvg_main(u32 boot_magic, const u32 *info);

/* Entered in 32-bit protected mode, paging off, interrupts in an unknown
 * state, no stack.  Give C a stack and the two loader registers. */
__asm__(".text\n"
        ".globl dvg_entry\n"
        "dvg_entry:\n"
        "    cli\n"
        "    movl $dvg_stack + 16384, %esp\n"
        "    pushl %ebx\n"
        "    pushl %eax\n"
        "    call dvg_main\n"
        "1:  hlt\n"
        "    jmp 1b\n");

static inline void outb(u16 port, u8 v)
{
    __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

/* ---------------------------------------------------------------- the tick
 * For hz=N: every vector goes to a stub that acknowledges the master PIC
 * and returns; only IRQ 0 (the PIT, remapped to vector 0x20) is unmasked,
 * so `sti; hlt; cli` sleeps until the next tick. */
__asm__(".text\n"
        "dvg_tick_stub:\n"
        "    pushl %eax\n"
        "    movb $0x20, %al\n"
        "    outb %al, $0x20\n"
        "    popl %eax\n"
        "    iret\n");
extern char dvg_tick_stub[];

struct idt_gate {
    u16 off_lo, sel;
    u8 zero, type;
    u16 off_hi;
} __attribute__((packed));

static struct idt_gate idt[256];

static void tick_start(u32 hz)
{
    struct {
        u16 limit;
        u32 base;
    } __attribute__((packed)) idtr = { sizeof idt - 1, (u32)idt };
    u32 stub = (u32)dvg_tick_stub, div = 1193182u / hz;
    u16 cs;

    __asm__ volatile("mov %%cs, %0" : "=r"(cs));
    for (int i = 0; i < 256; i++)
        idt[i] = (struct idt_gate){ (u16)stub, cs, 0, 0x8e, (u16)(stub >> 16) };
    __asm__ volatile("lidt %0" : : "m"(idtr));
    /* the PICs: vectors 0x20.. and 0x28.., everything masked but IRQ 0 */
    outb(0x20, 0x11);
    outb(0xa0, 0x11);
    outb(0x21, 0x20);
    outb(0xa1, 0x28);
    outb(0x21, 0x04);
    outb(0xa1, 0x02);
    outb(0x21, 0x01);
    outb(0xa1, 0x01);
    outb(0x21, 0xfe);
    outb(0xa1, 0xff);
    /* the PIT, channel 0, rate generator */
    outb(0x43, 0x34);
    outb(0x40, (u8)(div & 0xff));
    outb(0x40, (u8)(div >> 8));
}

static inline u8 inb(u16 port)
{
    u8 v;
    __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

static void ser_putc(char c)
{
    /* wait (boundedly) for the transmit holding register to empty */
    for (u32 spin = 0; spin < 65536 && !(inb(COM1 + 5) & 0x20); spin++)
        ;
    outb(COM1, (u8)c);
}

static void ser_puts(const char *s)
{
    for (; *s; s++) {
        if (*s == '\n')
            ser_putc('\r');
        ser_putc(*s);
    }
}

static void ser_putu(u32 v)
{
    char buf[11];
    int i = (int)sizeof buf;
    buf[--i] = 0;
    do {
        buf[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    ser_puts(buf + i);
}

/* Address of a word the compiler must not reason about: hides the constant
 * from its object-size checks, which know nothing lives at 0x7000. */
static volatile u32 *word_at(u32 addr)
{
    __asm__("" : "+r"(addr));
    return (volatile u32 *)addr;
}

static u32 boot_entropy(void)
{
    u32 lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return (lo ^ (hi << 7) ^ 0x9e3779b9u) | 1u;   /* never 0: xorshift needs a seed */
}

static u32 xorshift(u32 *s)
{
    u32 x = *s;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *s = x;
}

/* Value of "key=digits" among space-separated words, or dflt.  The first
 * word of a multiboot command line is the kernel's path: it never matches. */
static u32 arg_u32(const char *cl, const char *key, u32 dflt)
{
    const char *p = cl;

    while (p && *p) {
        while (*p == ' ')
            p++;
        const char *k = key;
        while (*k && *p == *k) {
            k++;
            p++;
        }
        if (!*k && *p == '=') {
            u32 v = 0, digits = 0;
            for (p++; *p >= '0' && *p <= '9'; p++, digits++)
                v = v * 10 + (u32)(*p - '0');
            if (digits && (*p == ' ' || !*p))
                return v;
        }
        while (*p && *p != ' ')
            p++;
    }
    return dflt;
}

static void fill_ram(volatile u32 *beat, u32 ram_end, u32 *seed)
{
    for (u32 a = FILL_BASE; a < ram_end; a += 4) {
        *word_at(a) = xorshift(seed);
        if (((a + 4) & (MIB - 1)) == 0)
            beat[DVG_W_FILLED_MIB] = (a + 4 - FILL_BASE) / MIB;
    }
}

void dvg_main(u32 boot_magic, const u32 *info)
{
    volatile u32 *beat = word_at(DVG_BEAT_ADDR);
    u32 mem_upper_kib = 15 * 1024;   /* assume 16 MiB if the loader did not say */
    const char *cmdline = 0;

    if (boot_magic == MB_BOOT_MAGIC) {
        if (info[0] & MB_INFO_HAS_MEM)
            mem_upper_kib = info[2];
        if (info[0] & MB_INFO_HAS_CMDLINE)
            cmdline = (const char *)info[4];
    }
    /* read the command line before the fill can overwrite it */
    u32 ram_end = MIB + mem_upper_kib * 1024u;
    u32 wss = arg_u32(cmdline, "wss", 16);
    u32 delay = arg_u32(cmdline, "delay", 0);
    u32 fill = arg_u32(cmdline, "fill", 1);
    u32 hz = arg_u32(cmdline, "hz", 0);
    u32 room = ram_end > FILL_BASE ? (ram_end - FILL_BASE) / MIB : 0;
    if (wss > room)
        wss = room;

    u32 seed = boot_entropy();
    beat[DVG_W_PHASE] = DVG_PHASE_FILLING;
    beat[DVG_W_BOOT_ID] = seed;
    beat[DVG_W_RAM_MIB] = ram_end / MIB;
    beat[DVG_W_WSS_MIB] = wss;
    beat[DVG_W_FILLED_MIB] = 0;
    beat[DVG_W_BEATS] = 0;
    beat[DVG_W_MAGIC] = DVG_MAGIC;

    ser_puts("dvguest: ram=");
    ser_putu(ram_end / MIB);
    ser_puts(" MiB wss=");
    ser_putu(wss);
    ser_puts(" MiB boot_id=");
    ser_putu(seed);
    ser_puts("\n");
    if (fill)
        fill_ram(beat, ram_end, &seed);
    beat[DVG_W_PHASE] = DVG_PHASE_RUNNING;
    ser_puts("dvguest: running\n");

    u32 pages = wss * (MIB / PAGE);
    if (hz > 19 && hz <= 10000)      /* the PIT's 16-bit divisor: 19 Hz at the least */
        tick_start(hz);
    else
        hz = 0;
    for (;;) {
        for (u32 i = 0; i < pages; i++) {
            u32 r = xorshift(&seed);
            /* one word at a random offset of page i: the whole page is dirty */
            *word_at(FILL_BASE + i * PAGE + (r & (PAGE - 4))) = r;
            for (volatile u32 d = 0; d < delay; d++)
                ;
        }
        if (hz)
            __asm__ volatile("sti; hlt; cli");
        else if (!pages)
            for (volatile u32 d = 0; d < 20000; d++)
                ;
        u32 n = beat[DVG_W_BEATS] + 1;
        beat[DVG_W_BEATS] = n;
        if ((n & 0xffffu) == 0) {
            ser_puts("dvguest: beats=");
            ser_putu(n);
            ser_puts("\n");
        }
    }
}
