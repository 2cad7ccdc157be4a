/*
 * rvc_system.S - execute every 16-bit (compressed) RISC-V encoding once on a bare-metal machine
 * (qemu-system-riscv64 -M virt -bios none) and record how each one ended, like rvc_user.S.
 * Part of `hvcheck riscv-conformance --qemu-system`.
 *
 * The harness runs in M-mode; each test runs in U-mode, so the M-mode trap handler (mtvec) sees
 * every exception and the PMP confines the test: the test area (8 KiB of c.ebreak around
 * `test_slot`) is R+X, the scratch area (8 KiB, where x1..x31 point) is R+W, and nothing else is
 * accessible from U-mode, so register jumps fault on fetch (cause 1) and loads/stores stay in
 * scratch. The CLINT timer (mtimecmp) is armed before each test: a test that is still running at
 * three consecutive deadlines (c.j . / c.bnez x, .) is recorded as "looped"; earlier deadlines
 * resume it untouched, so a slow host cannot turn a normal test into a loop.
 *
 * Records use the same 16-byte layout as rvc_user.S, with the exception mapped to the signal a
 * Linux kernel would send (2 -> SIGILL, 3 -> SIGTRAP, 1/5/7 -> SIGSEGV, 4/6 -> SIGBUS, timer ->
 * SIGALRM, anything else -> 64 + cause) and si_code = the mcause exception code.
 * At the end the magic "HVRCONF1" and the records are written with Arm-compatible semihosting
 * (SYS_OPEN/SYS_WRITE to "rvc_system.out" in QEMU's working directory; run with
 * -semihosting-config enable=on,target=native) and the machine powers off through the virt
 * board's test device (0x5555 = pass, 0x3333 | code << 16 = fail).
 */
        .option norelax
        .option rvc

        .equ CLINT_MTIMECMP, 0x02004000
        .equ CLINT_MTIME, 0x0200bff8
        .equ TEST_DEVICE, 0x00100000
        .equ DEADLINE, 20000            /* 2 ms at the virt board's 10 MHz timebase */
        .equ STRIKES, 3
        .equ MAX_RECORDS, 65536

        .equ ST_NEXT, 0
        .equ ST_CUR, 8
        .equ ST_NREC, 16
        .equ ST_STRIKES, 24
        .equ ST_FD, 32

        .text
        .globl _start
_start:
        csrr    t0, mhartid
        bnez    t0, park
        lla      sp, m_stack_top
        lla      t0, frame
        csrw    mscratch, t0
        lla      t0, trap_entry
        csrw    mtvec, t0
        /* PMP: entry 0 = test area R+X, entry 1 = scratch R+W (both NAPOT 8 KiB); U-mode
           gets nothing else. M-mode is unaffected (entries are not locked). */
        lla      t0, testarea_start
        li      t1, 4095
        add     t0, t0, t1
        srli    t0, t0, 2
        csrw    pmpaddr0, t0
        lla      t0, scratch
        add     t0, t0, t1
        srli    t0, t0, 2
        csrw    pmpaddr1, t0
        li      t0, 0x1b1d              /* entry1: NAPOT|W|R, entry0: NAPOT|X|R */
        csrw    pmpcfg0, t0
        li      t0, 1 << 7              /* mie.MTIE: the watchdog; taken in U-mode only */
        csrw    mie, t0
        li      t0, -1
        li      t1, CLINT_MTIMECMP
        sd      t0, 0(t1)

        .globl next_test
next_test:
        lla      sp, m_stack_top
        lla      s0, state
        ld      s1, ST_NEXT(s0)
1:      li      t0, 0x10000
        bgeu    s1, t0, done
        andi    t0, s1, 3
        li      t1, 3
        bne     t0, t1, 2f
        addi    s1, s1, 1
        j       1b
2:      sd      s1, ST_CUR(s0)
        addi    t0, s1, 1
        sd      t0, ST_NEXT(s0)
        sd      zero, ST_STRIKES(s0)
        lla      t0, test_slot
        sh      s1, 0(t0)
        fence.i
        csrw    mepc, t0
        /* mret to U-mode (MPP=0) with the FPU on (FS=Initial) and MPIE clear */
        li      t0, (3 << 11) | (1 << 7)
        csrc    mstatus, t0
        li      t0, 1 << 13
        csrs    mstatus, t0
        call    arm_timer
        lla      t6, scratch
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
        mret

/* mtimecmp = mtime + DEADLINE (clobbers t1, t2) */
arm_timer:
        li      t1, CLINT_MTIME
        ld      t2, 0(t1)
        li      t1, DEADLINE
        add     t2, t2, t1
        li      t1, CLINT_MTIMECMP
        sd      t2, 0(t1)
        ret

        .balign 4
trap_entry:
        csrrw   sp, mscratch, sp        /* sp = frame, mscratch = the test's sp */
        sd      x1, 8(sp)
        sd      x3, 24(sp)
        sd      x4, 32(sp)
        sd      x5, 40(sp)
        sd      x6, 48(sp)
        sd      x7, 56(sp)
        sd      x8, 64(sp)
        sd      x9, 72(sp)
        sd      x10, 80(sp)
        sd      x11, 88(sp)
        sd      x12, 96(sp)
        sd      x13, 104(sp)
        sd      x14, 112(sp)
        sd      x15, 120(sp)
        sd      x16, 128(sp)
        sd      x17, 136(sp)
        sd      x18, 144(sp)
        sd      x19, 152(sp)
        sd      x20, 160(sp)
        sd      x21, 168(sp)
        sd      x22, 176(sp)
        sd      x23, 184(sp)
        sd      x24, 192(sp)
        sd      x25, 200(sp)
        sd      x26, 208(sp)
        sd      x27, 216(sp)
        sd      x28, 224(sp)
        sd      x29, 232(sp)
        sd      x30, 240(sp)
        sd      x31, 248(sp)
        csrr    t0, mscratch
        sd      t0, 16(sp)
        csrw    mscratch, sp
        /* a trap from M-mode is a harness bug: fail loudly rather than record nonsense */
        csrr    t0, mstatus
        srli    t0, t0, 11
        andi    t0, t0, 3
        li      t1, 3
        beq     t0, t1, harness_bug
        lla      s0, state
        csrr    a0, mcause
        csrr    a1, mepc
        csrr    a2, mtval
        bgez    a0, exception
        /* interrupt: only the watchdog timer is enabled */
        ld      t0, ST_STRIKES(s0)
        addi    t0, t0, 1
        sd      t0, ST_STRIKES(s0)
        li      t1, STRIKES
        bgeu    t0, t1, looped
        call    arm_timer
        /* resume the test exactly where it was */
        ld      t0, 16(sp)
        csrw    mscratch, t0
        ld      x1, 8(sp)
        ld      x3, 24(sp)
        ld      x4, 32(sp)
        ld      x5, 40(sp)
        ld      x6, 48(sp)
        ld      x7, 56(sp)
        ld      x8, 64(sp)
        ld      x9, 72(sp)
        ld      x10, 80(sp)
        ld      x11, 88(sp)
        ld      x12, 96(sp)
        ld      x13, 104(sp)
        ld      x14, 112(sp)
        ld      x15, 120(sp)
        ld      x16, 128(sp)
        ld      x17, 136(sp)
        ld      x18, 144(sp)
        ld      x19, 152(sp)
        ld      x20, 160(sp)
        ld      x21, 168(sp)
        ld      x22, 176(sp)
        ld      x23, 184(sp)
        ld      x24, 192(sp)
        ld      x25, 200(sp)
        ld      x26, 208(sp)
        ld      x27, 216(sp)
        ld      x28, 224(sp)
        ld      x29, 232(sp)
        ld      x30, 240(sp)
        ld      x31, 248(sp)
        csrrw   sp, mscratch, sp
        mret

looped: li      a3, 14                  /* SIGALRM */
        li      a0, 0x7f
        j       record
exception:
        li      a3, 4
        li      t0, 2
        beq     a0, t0, record          /* illegal instruction */
        li      a3, 5
        li      t0, 3
        beq     a0, t0, record          /* breakpoint */
        li      a3, 11
        li      t0, 1
        beq     a0, t0, record          /* fetch access fault */
        li      t0, 5
        beq     a0, t0, record          /* load access fault */
        li      t0, 7
        beq     a0, t0, record          /* store access fault */
        li      a3, 7
        li      t0, 4
        beq     a0, t0, record          /* load misaligned */
        li      t0, 6
        beq     a0, t0, record          /* store misaligned */
        addi    a3, a0, 64

/* a0 = cause code, a1 = pc, a2 = mtval, a3 = signal number, sp = frame */
record:
        li      t0, -1
        li      t1, CLINT_MTIMECMP
        sd      t0, 0(t1)               /* disarm the watchdog */
        ld      t3, ST_NREC(s0)
        li      t4, MAX_RECORDS
        bgeu    t3, t4, next_test
        lla      t4, results
        slli    t5, t3, 4
        add     t4, t4, t5
        addi    t3, t3, 1
        sd      t3, ST_NREC(s0)
        ld      t5, ST_CUR(s0)
        sh      t5, 0(t4)
        sb      a3, 2(t4)
        sb      a0, 3(t4)
        lla      t5, test_slot
        sub     t5, a1, t5
        sw      t5, 4(t4)
        lla      t5, scratch
        li      a5, 0
        li      a4, 1
3:      slli    a6, a4, 3
        add     a6, a6, sp
        ld      a6, 0(a6)
        slli    a7, a4, 4
        add     a7, a7, t5
        beq     a6, a7, 4f
        li      a7, 1
        sll     a7, a7, a4
        or      a5, a5, a7
4:      addi    a4, a4, 1
        li      a6, 32
        blt     a4, a6, 3b
        sw      a5, 8(t4)
        sw      a2, 12(t4)
        j       next_test

done:
        lla      t0, magic
        ld      t0, 0(t0)
        lla      t1, header
        sd      t0, 0(t1)
        /* fd = SYS_OPEN("rvc_system.out", "wb") */
        lla      a1, sh_open
        li      a0, 0x01
        call    semihost
        li      t0, -1
        beq     a0, t0, fail
        lla      t1, sh_write
        sd      a0, 0(t1)
        lla      t1, sh_close
        sd      a0, 0(t1)
        /* SYS_WRITE(fd, magic+records): returns the number of bytes NOT written */
        lla      s0, state
        ld      t0, ST_NREC(s0)
        slli    t0, t0, 4
        addi    t0, t0, 8
        lla      t1, sh_write
        sd      t0, 16(t1)
        mv      a1, t1
        li      a0, 0x05
        call    semihost
        bnez    a0, fail
        lla      a1, sh_close
        li      a0, 0x02
        call    semihost
        li      t0, 0x5555              /* poweroff: pass */
        j       finish
harness_bug:
        li      t0, (2 << 16) | 0x3333
        j       finish
fail:   li      t0, (1 << 16) | 0x3333
finish: li      t1, TEST_DEVICE
        sw      t0, 0(t1)
park:   wfi
        j       park

/* semihosting call: a0 = operation, a1 = parameter block; result in a0. The three-instruction
   sequence must be uncompressed and must not straddle a page. */
        .balign 16
semihost:
        .option push
        .option norvc
        slli    x0, x0, 0x1f
        ebreak
        srai    x0, x0, 7
        .option pop
        ret

        .section .rodata
out_name:
        .asciz  "rvc_system.out"
        .balign 8
magic:  .ascii  "HVRCONF1"

        .data
        .balign 8
sh_open:
        .dword  out_name, 5, 14         /* name, mode "wb", strlen(name) */
sh_write:
        .dword  0, header, 0            /* fd, buffer, length */
sh_close:
        .dword  0
state:  .dword  0, 0, 0, 0, 0

        .section .testarea, "awx", @progbits
        .balign 8192
        .globl testarea_start, test_slot, testarea_end
testarea_start:
        .fill   2048, 2, 0x9002
test_slot:
        .2byte  0x9002
        .fill   2047, 2, 0x9002
testarea_end:

        .bss
        .balign 8192
scratch:
        .skip   8192
frame:  .skip   256
        .balign 16
m_stack:
        .skip   4096
m_stack_top:
        .balign 16
header: .skip   8                       /* the magic, copied in at the end */
results:
        .skip   MAX_RECORDS * 16
