/* Seed 002: an M-mode stub sets mtvec with a hand-computed offset.
 *
 *   auipc t0, 0 ; c.addi t0, 18 ; csrw mtvec, t0 ; c.j continue ; .align 4 ; mtrap_entry:
 *
 * With linker relaxation on, the `.align 4` padding shrinks to nop, nop, c.nop and
 * mtrap_entry lands at 0x80000080, but auipc (0x8000006a) + 18 = 0x8000007c: the upper half
 * of the nop at 0x8000007a, which reads 0x0000 (illegal). Expected: exactly one R002.
 */
    .section .text.init, "ax", @progbits
    .globl _start
_start:
    csrr    a0, mhartid
    bnez    a0, park
    la      sp, stack_top
    csrw    mie, zero
    csrw    mip, zero
    csrw    mideleg, zero
    csrw    medeleg, zero
    csrw    satp, zero
    csrw    mscratch, zero
    csrw    pmpcfg0, zero
    li      t1, 0x1800
    csrc    mstatus, t1
    li      ra, 0
    li      gp, 0
    li      tp, 0
    li      t2, 0
    li      s0, 0
    li      s1, 0
    li      a1, 0
    li      a2, 0
    li      a3, 0
    li      a4, 0
    li      a5, 0
    li      a6, 0
    li      a7, 0
    li      s2, 0
    li      s3, 0
    li      s4, 0
    li      s5, 0
    li      s6, 0
    li      s7, 0
    li      s8, 0
    li      s9, 0
    li      s10, 0
    li      s11, 0
    li      t3, 0
    li      t4, 0
    li      t5, 0
    li      t6, 0
    auipc   t0, 0
    c.addi  t0, 18
    csrw    0x305, t0           /* mtvec */
    c.j     continue
    .align 4
mtrap_entry:
    csrw    0x340, sp           /* mscratch */
    la      sp, trap_stack_top
    addi    sp, sp, -16
    sd      t0, 0(sp)
    sd      t1, 8(sp)
    csrr    t0, mcause
    bgez    t0, 1f
    li      t1, 0x80
    csrc    mie, t1             /* forward: mask the M timer, the hypervisor re-arms it */
1:  ld      t1, 8(sp)
    ld      t0, 0(sp)
    csrr    sp, mscratch
    mret
continue:
    li      t0, 0x80
    csrs    mie, t0
    csrsi   mstatus, 8
park:
    wfi
    j       park

    .data
    .balign 16
    .space  256
stack_top:
    .space  256
trap_stack_top:
