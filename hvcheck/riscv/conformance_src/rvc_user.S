/*
 * rvc_user.S - execute every 16-bit (compressed) RISC-V encoding once under a Linux user-mode
 * emulator (qemu-riscv64), or natively on riscv64 Linux, and record how each one ended.
 * Part of `hvcheck riscv-conformance`.
 *
 * No libc: every register may be clobbered by the instruction under test (sp, ra, gp, tp
 * included), so everything the harness needs is reached PC-relatively (auipc) or from memory,
 * never from a register that survives a test.
 *
 * For each halfword h with h[1:0] != 0b11 (49152 of them):
 *   1. h is stored into `test_slot`, which sits in the middle of 4 KiB of c.ebreak (0x9002) on
 *      each side, so an instruction that falls through, branches (c.beqz/c.bnez: +-256 B) or
 *      jumps (c.j: +-2 KiB) lands on a guard and raises SIGTRAP;
 *   2. x1..x31 are set to SCRATCH + 16*i, SCRATCH being an 8 KiB read/write, non-executable
 *      mapping, so loads/stores (offsets <= 504) touch only scratch memory, and register jumps
 *      (c.jr/c.jalr) fault on fetch (SIGSEGV) instead of running anything;
 *   3. the handler (on an alternate signal stack, since sp is clobbered) records
 *      (h, signal, si_code, pc - test_slot, mask of x1..x31 that changed, si_addr low 32 bits)
 *      and resumes at `next_test`, which reloads all state PC-relatively;
 *   4. a 2 ms interval timer catches instructions that never trap (c.j . / c.bnez x, .): a test
 *      still running at three consecutive ticks inside the test area is recorded with SIGALRM.
 * At the end the records are written to stdout: the 8-byte magic ("HVRCONF1" from the RV64 build,
 * "HVRC32V1" from the RV32 one), then one 16-byte little-endian record per halfword (see
 * hvcheck/riscv/conformance.py). The same source builds both (build.sh; registers are XLEN wide,
 * the state words stay 8 bytes apart).
 */
#if __riscv_xlen == 64
#define REG_L ld
#define REG_S sd
#define PTR .dword
#define REGSHIFT 3
#define UC_PC 176       /* offsetof(ucontext_t, uc_mcontext) on riscv64: gregs[0] is the pc */
#define SI_ADDR 16      /* offsetof(siginfo_t, si_addr) */
#define MAGIC "HVRCONF1"
#else
#define REG_L lw
#define REG_S sw
#define PTR .word
#define REGSHIFT 2
#define UC_PC 160       /* 148 bytes of header, uc_mcontext aligned to 16 */
#define SI_ADDR 12
#define MAGIC "HVRC32V1"
#endif
#define REGBYTES (1 << REGSHIFT)

        .option norelax
        .option rvc

        .equ SYS_write, 64
        .equ SYS_exit_group, 94
        .equ SYS_setitimer, 103
        .equ SYS_sigaltstack, 132
        .equ SYS_rt_sigaction, 134
        .equ SYS_mmap, 222
        .equ SYS_riscv_flush_icache, 259

        .equ SIGALRM, 14
        .equ SA_SIGINFO, 4
        .equ SA_ONSTACK, 0x08000000
        .equ SCRATCH_SIZE, 8192
        .equ ALT_SIZE, 65536
        .equ MAX_RECORDS, 65536
        .equ WATCHDOG_TICKS, 3

        /* offsets into `state` */
        .equ ST_NEXT, 0                 /* next halfword to try */
        .equ ST_CUR, 8                  /* halfword under test */
        .equ ST_NREC, 16                /* records written */
        .equ ST_SCRATCH, 24             /* base of the scratch mapping */
        .equ ST_LASTTICK, 32            /* ST_NEXT seen at the previous timer tick */
        .equ ST_SAMETICKS, 40           /* consecutive ticks inside the same test */

        .text
        .globl _start
_start:
        lla      sp, main_stack_top

        /* alternate signal stack: the test may leave any value in sp */
        lla      a0, altstack_desc
        lla      t0, altstack
        REG_S   t0, 0(a0)               /* stack_t: ss_sp, int ss_flags, ss_size */
        sw      zero, REGBYTES(a0)
        li      t0, ALT_SIZE
        REG_S   t0, 2 * REGBYTES(a0)
        li      a1, 0
        li      a7, SYS_sigaltstack
        ecall
        bnez    a0, fail

        /* scratch: read/write, not executable */
        li      a0, 0
        li      a1, SCRATCH_SIZE
        li      a2, 3                   /* PROT_READ|PROT_WRITE */
        li      a3, 0x22                /* MAP_PRIVATE|MAP_ANONYMOUS */
        li      a4, -1
        li      a5, 0
        li      a7, SYS_mmap
        ecall
        li      t0, -4096
        bgeu    a0, t0, fail
        lla      t0, state
        REG_S   a0, ST_SCRATCH(t0)

        /* one handler for every signal a test can raise */
        lla      s1, handled_signals
1:      lbu     a0, 0(s1)
        beqz    a0, 2f
        lla      a1, sigact
        li      a2, 0
        li      a3, 8
        li      a7, SYS_rt_sigaction
        ecall
        bnez    a0, fail
        addi    s1, s1, 1
        j       1b
2:
        /* watchdog timer */
        li      a0, 0                   /* ITIMER_REAL */
        lla      a1, itimer_on
        li      a2, 0
        li      a7, SYS_setitimer
        ecall
        bnez    a0, fail

        .globl next_test
next_test:
        lla      sp, main_stack_top
        lla      s0, state
        REG_L   s1, ST_NEXT(s0)
3:      li      t0, 0x10000
        bgeu    s1, t0, done
        andi    t0, s1, 3
        li      t1, 3
        bne     t0, t1, 4f
        addi    s1, s1, 1               /* bits[1:0] = 11: not a 16-bit instruction */
        j       3b
4:      REG_S   s1, ST_CUR(s0)
        addi    t0, s1, 1
        REG_S   t0, ST_NEXT(s0)
        lla      t0, test_slot
        sh      s1, 0(t0)
        /* make the new instruction visible to instruction fetch: fence.i for this hart, and the
           Linux syscall for every hart (on real hardware the process may migrate); an emulator
           without the syscall returns -ENOSYS, which is harmless here */
        fence.i
        mv      a0, t0
        addi    a1, t0, 2
        li      a2, 0
        li      a7, SYS_riscv_flush_icache
        ecall
        /* x1..x31 = SCRATCH + 16*i (x31 last: it holds the base until then) */
        REG_L   t6, ST_SCRATCH(s0)
        addi    x1, t6, 16
        addi    x2, t6, 32
        addi    x3, t6, 48
        addi    x4, t6, 64
        addi    x5, t6, 80
        addi    x6, t6, 96
        addi    x7, t6, 112
        addi    x8, t6, 128
        addi    x9, t6, 144
        addi    x10, t6, 160
        addi    x11, t6, 176
        addi    x12, t6, 192
        addi    x13, t6, 208
        addi    x14, t6, 224
        addi    x15, t6, 240
        addi    x16, t6, 256
        addi    x17, t6, 272
        addi    x18, t6, 288
        addi    x19, t6, 304
        addi    x20, t6, 320
        addi    x21, t6, 336
        addi    x22, t6, 352
        addi    x23, t6, 368
        addi    x24, t6, 384
        addi    x25, t6, 400
        addi    x26, t6, 416
        addi    x27, t6, 432
        addi    x28, t6, 448
        addi    x29, t6, 464
        addi    x30, t6, 480
        addi    x31, t6, 496
        j       test_slot

done:
        lla      sp, main_stack_top
        li      a0, 0
        lla      a1, itimer_off
        li      a2, 0
        li      a7, SYS_setitimer
        ecall
        lla      a1, magic
        li      a2, 8
        call    write_all
        lla      s0, state
        REG_L   a2, ST_NREC(s0)
        slli    a2, a2, 4
        lla      a1, results
        call    write_all
        li      a0, 0
        li      a7, SYS_exit_group
        ecall

fail:   li      a0, 99
        li      a7, SYS_exit_group
        ecall

/* write_all(a1 = buf, a2 = len) to fd 1, retrying partial writes */
write_all:
        beqz    a2, 2f
        li      a0, 1
        li      a7, SYS_write
        ecall
        li      t0, -4                  /* EINTR */
        beq     a0, t0, write_all
        blt     a0, zero, fail
        add     a1, a1, a0
        sub     a2, a2, a0
        j       write_all
2:      ret

/*
 * handler(a0 = signo, a1 = siginfo, a2 = ucontext). Runs on the alternate stack with every
 * signal blocked; uses only t and a registers (restored by rt_sigreturn) and returns through ra,
 * which the kernel/QEMU points at the sigreturn trampoline.
 */
handler:
        lla      t0, state
        REG_L   t1, UC_PC(a2)
        li      t2, SIGALRM
        bne     a0, t2, record
        /* watchdog tick: act only on a test stuck inside the test area */
        REG_L   t3, ST_NEXT(t0)
        REG_L   t4, ST_LASTTICK(t0)
        REG_S   t3, ST_LASTTICK(t0)
        lla      t5, testarea_start
        bltu    t1, t5, 5f
        lla      t5, testarea_end
        bgeu    t1, t5, 5f
        bne     t3, t4, 5f
        REG_L   t4, ST_SAMETICKS(t0)
        addi    t4, t4, 1
        REG_S   t4, ST_SAMETICKS(t0)
        li      t5, WATCHDOG_TICKS
        bgeu    t4, t5, record
        ret
5:      REG_S   zero, ST_SAMETICKS(t0)
        ret

record:
        REG_S   zero, ST_SAMETICKS(t0)
        REG_L   t3, ST_NREC(t0)
        li      t4, MAX_RECORDS
        bgeu    t3, t4, resume
        lla      t4, results
        slli    t5, t3, 4
        add     t4, t4, t5
        addi    t3, t3, 1
        REG_S   t3, ST_NREC(t0)
        REG_L   t5, ST_CUR(t0)
        sh      t5, 0(t4)
        sb      a0, 2(t4)
        lw      t5, 8(a1)               /* si_code */
        sb      t5, 3(t4)
        lla      t5, test_slot
        sub     t5, t1, t5
        sw      t5, 4(t4)
        /* which of x1..x31 differ from their preset value */
        REG_L   t5, ST_SCRATCH(t0)
        li      a3, 0
        li      a4, 1
6:      slli    a5, a4, REGSHIFT
        add     a5, a5, a2
        REG_L   a5, UC_PC(a5)
        slli    a6, a4, 4
        add     a6, a6, t5
        beq     a5, a6, 7f
        li      a6, 1
        sll     a6, a6, a4
        or      a3, a3, a6
7:      addi    a4, a4, 1
        li      a6, 32
        blt     a4, a6, 6b
        sw      a3, 8(t4)
        REG_L   a5, SI_ADDR(a1)
        sw      a5, 12(t4)
resume:
        lla      t5, next_test
        REG_S   t5, UC_PC(a2)
        ret

        .section .rodata
magic:  .ascii  MAGIC
handled_signals:
        .byte   4, 5, 7, 8, 11, 14, 0   /* SIGILL SIGTRAP SIGBUS SIGFPE SIGSEGV SIGALRM */

        .data
        .balign 8
sigact: PTR     handler                 /* the kernel's struct sigaction: no sa_restorer on RISC-V */
        PTR     SA_SIGINFO | SA_ONSTACK
        .dword  -1                      /* block every signal while handling one */
itimer_on:
        PTR     0, 2000, 0, 2000        /* every 2 ms */
itimer_off:
        PTR     0, 0, 0, 0
altstack_desc:
        .dword  0, 0, 0
state:  .dword  0, 0, 0, 0, 0, 0

        /* The code the tests run in: writable (the slot is rewritten per test) and executable. */
        .section .testarea, "awx", @progbits
        .balign 4096
        .globl testarea_start, test_slot, testarea_end
testarea_start:
        .fill   2048, 2, 0x9002
test_slot:
        .2byte  0x9002
        .fill   2047, 2, 0x9002
testarea_end:

        .bss
        .balign 16
altstack:
        .skip   ALT_SIZE
main_stack:
        .skip   4096
main_stack_top:
        .balign 16
results:
        .skip   MAX_RECORDS * 16
