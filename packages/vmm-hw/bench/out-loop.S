# The exit benchmark's guest. Real mode, loaded at 0000:1000: ECX (set by the host) OUTs to port
# 0x80, one port-I/O exit each, then HLT. Run by `harness bench exits` under every strategy and by
# kvm-exits.c, so that all figures are for the same bytes.
        .code16
        cli
1:      outb    %al, $0x80
        dec     %ecx
        jnz     1b
        hlt
