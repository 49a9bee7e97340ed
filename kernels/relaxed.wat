;; relaxed.wat — the relaxed-SIMD kernels of QConv, for engines that have WebAssembly relaxed
;; SIMD. It is not a module of its own: build.sh assembles www/simd-relaxed.wasm from
;; simd.wat with these functions added to it (they call its $tile_q), and the host binds that
;; module where the engine validates it (and it passes the host's self-check), simd.wasm where
;; it does not (fourbit-simd.js).
;;
;; i32x4.relaxed_dot_i8x16_i7x16_add_s (opcode 0xfd 0x113; Debian's wabt 1.0.32 spells it
;; i32x4.dot_i8x16_i7x16_add_s, the proposal's earlier name) multiplies 16 signed bytes by 16
;; bytes of the second operand and adds each group of four products to a 32-bit lane: 16
;; multiply-adds in one instruction (on x86 with AVX-VNNI one vpdpbusd), twice dot_i16x8_s.
;; It is exact — the same on every engine — when the second operand's bytes are in [0, 127]
;; (the i7 range: engines differ only in how they read the top bit) and no 16-bit pair sum
;; overflows, which holds for |a| ≤ 128, b ≤ 127. So these kernels take the weight codes
;; themselves as the second operand (codes up to 127: weights of up to 7 bits) and the input
;; codes shifted to signed bytes, a − 128, as the first (any input up to 8 bits). From
;;   Σ w·(a − 128) = Σ (w − zw)(a − z) − (128 − z)·Σ w + zw·Σ (a − z)
;; QConv's v = Σ (w − zw)(a − z) is the dot product plus the row's constant (128 − z)·Σ w,
;; minus zw times the window sum d = Σ (a − z), in wrapping int32 arithmetic: exact, since v
;; itself fits in int32 (K < 2^15).
;;
;;   im2col_q4 (dst src koff kq oh ppr wp sh sw z k colsum): the im2col matrix of one image
;;     as the bytes a − 128 in quads of k: panels of 8 output pixels, per quad 32 bytes — each
;;     pixel's four values side by side in one 32-bit lane. src is the padded input (as for
;;     im2col_q), koff the byte offset of each of the 4·kq k's (the ones past K point inside
;;     the planes; their weights are 0), sh/sw the strides (sw 1 or 2). Each column's
;;     d = Σ (a − z) over the K real k's goes to colsum (int32).
;;   gemm_q4 (dst ldc a b colsum par zr m kq oh ppr ow): QConv's GEMM from im2col_q4's matrix
;;     and the weight codes as quads (panels of 4 rows, per quad 16 bytes: row r's four values
;;     at 4r), a 4×8 tile of relaxed dot products; zr holds, per panel of 4 rows, their
;;     (128 − z)·Σ w (the sums' starting value) and then their zw, 8 int32; then gemm_q's
;;     requantization ($tile_q).

  (func (export "im2col_q4") (param $dst i32) (param $src i32) (param $koff i32) (param $kq i32)
        (param $oh i32) (param $ppr i32) (param $wp i32) (param $sh i32) (param $sw i32)
        (param $z i32) (param $k i32) (param $colsum i32)
    (local $oy i32) (local $px i32) (local $base i32) (local $q i32) (local $o i32)
    (local $x01 v128) (local $x23 v128) (local $lo v128) (local $hi v128)
    (local $ones v128) (local $mask v128) (local $m v128) (local $s0 v128) (local $s1 v128)
    (local $kz v128) (local $last i32) (local $rem i32) (local $flip v128)
    ;; Σ (a − 128) + K·(128 − z) = Σ (a − z)
    (local.set $kz (i32x4.splat (i32.mul (local.get $k) (i32.sub (i32.const 128) (local.get $z)))))
    (local.set $flip (i8x16.splat (i32.const 0x80)))
    (local.set $ones (v128.const i32x4 0x01010101 0x01010101 0x01010101 0x01010101))
    ;; the last quad counts only its K mod 4 real k's in the window sums
    (local.set $rem (i32.and (local.get $k) (i32.const 3)))
    (local.set $mask (i32x4.splat
      (select (i32.const 0x01010101)
        (select (i32.const 0x00000001)
          (select (i32.const 0x00000101) (i32.const 0x00010101) (i32.eq (local.get $rem) (i32.const 2)))
          (i32.eq (local.get $rem) (i32.const 1)))
        (i32.eqz (local.get $rem)))))
    (local.set $last (i32.sub (local.get $kq) (i32.const 1)))
    (local.set $oy (i32.const 0))
    (block $done_y (loop $loop_y
      (br_if $done_y (i32.ge_u (local.get $oy) (local.get $oh)))
      (local.set $px (i32.const 0))
      (block $done_x (loop $loop_x
        (br_if $done_x (i32.ge_u (local.get $px) (local.get $ppr)))
        (local.set $base (i32.add (local.get $src) (i32.add
          (i32.mul (i32.mul (local.get $oy) (local.get $sh)) (local.get $wp))
          (i32.shl (i32.mul (local.get $px) (local.get $sw)) (i32.const 3)))))
        (local.set $s0 (v128.const i32x4 0 0 0 0)) (local.set $s1 (v128.const i32x4 0 0 0 0))
        (local.set $o (local.get $koff))
        (local.set $q (i32.const 0))
        (block $done_k (loop $loop_k
          (br_if $done_k (i32.ge_u (local.get $q) (local.get $kq)))
          (if (i32.eq (local.get $sw) (i32.const 1))
            (then
              ;; x01: k0's 8 pixels, then k1's; x23: k2's, k3's
              (local.set $x01 (v128.load64_lane 1 (i32.add (local.get $base) (i32.load offset=4 (local.get $o)))
                (v128.load64_zero (i32.add (local.get $base) (i32.load (local.get $o))))))
              (local.set $x23 (v128.load64_lane 1 (i32.add (local.get $base) (i32.load offset=12 (local.get $o)))
                (v128.load64_zero (i32.add (local.get $base) (i32.load offset=8 (local.get $o)))))))
            (else
              ;; stride 2: every other byte of 16
              (local.set $x01 (i8x16.shuffle 0 2 4 6 8 10 12 14 16 18 20 22 24 26 28 30
                (v128.load (i32.add (local.get $base) (i32.load (local.get $o))))
                (v128.load (i32.add (local.get $base) (i32.load offset=4 (local.get $o))))))
              (local.set $x23 (i8x16.shuffle 0 2 4 6 8 10 12 14 16 18 20 22 24 26 28 30
                (v128.load (i32.add (local.get $base) (i32.load offset=8 (local.get $o))))
                (v128.load (i32.add (local.get $base) (i32.load offset=12 (local.get $o))))))))
          (local.set $x01 (v128.xor (local.get $x01) (local.get $flip))) ;; a − 128 as a signed byte
          (local.set $x23 (v128.xor (local.get $x23) (local.get $flip)))
          (local.set $lo (i8x16.shuffle 0 8 16 24 1 9 17 25 2 10 18 26 3 11 19 27 (local.get $x01) (local.get $x23)))
          (local.set $hi (i8x16.shuffle 4 12 20 28 5 13 21 29 6 14 22 30 7 15 23 31 (local.get $x01) (local.get $x23)))
          (v128.store (local.get $dst) (local.get $lo))
          (v128.store offset=16 (local.get $dst) (local.get $hi))
          (local.set $m (select (local.get $mask) (local.get $ones) (i32.eq (local.get $q) (local.get $last))))
          (local.set $s0 (i32x4.dot_i8x16_i7x16_add_s (local.get $lo) (local.get $m) (local.get $s0)))
          (local.set $s1 (i32x4.dot_i8x16_i7x16_add_s (local.get $hi) (local.get $m) (local.get $s1)))
          (local.set $dst (i32.add (local.get $dst) (i32.const 32)))
          (local.set $o (i32.add (local.get $o) (i32.const 16)))
          (local.set $q (i32.add (local.get $q) (i32.const 1)))
          (br $loop_k)))
        (v128.store (local.get $colsum) (i32x4.add (local.get $s0) (local.get $kz)))
        (v128.store offset=16 (local.get $colsum) (i32x4.add (local.get $s1) (local.get $kz)))
        (local.set $colsum (i32.add (local.get $colsum) (i32.const 32)))
        (local.set $px (i32.add (local.get $px) (i32.const 1)))
        (br $loop_x)))
      (local.set $oy (i32.add (local.get $oy) (i32.const 1)))
      (br $loop_y))))

  (func (export "gemm_q4") (param $dst i32) (param $ldc i32) (param $a i32) (param $b i32)
        (param $colsum i32) (param $par i32) (param $zr i32) (param $m i32) (param $kq i32)
        (param $oh i32) (param $ppr i32) (param $ow i32)
    (local $ip i32) (local $jp i32) (local $mp i32) (local $np i32) (local $ap i32) (local $bp i32)
    (local $kk i32) (local $x0 v128) (local $x1 v128) (local $w v128) (local $zp i32)
    (local $c0l v128) (local $c0h v128) (local $c1l v128) (local $c1h v128)
    (local $c2l v128) (local $c2h v128) (local $c3l v128) (local $c3h v128)
    (local.set $mp (i32.shr_u (i32.add (local.get $m) (i32.const 3)) (i32.const 2)))
    (local.set $np (i32.mul (local.get $oh) (local.get $ppr)))
    (local.set $ip (i32.const 0))
    (block $done_i (loop $loop_i
      (br_if $done_i (i32.ge_u (local.get $ip) (local.get $mp)))
      (local.set $zp (i32.add (local.get $zr) (i32.shl (local.get $ip) (i32.const 5))))
      (local.set $jp (i32.const 0))
      (block $done_j (loop $loop_j
        (br_if $done_j (i32.ge_u (local.get $jp) (local.get $np)))
        (local.set $ap (i32.add (local.get $a) (i32.mul (local.get $ip) (i32.shl (local.get $kq) (i32.const 4)))))
        (local.set $bp (i32.add (local.get $b) (i32.mul (local.get $jp) (i32.shl (local.get $kq) (i32.const 5)))))
        ;; the sums start at (128 − z)·Σ w
        (local.set $c0l (v128.load32_splat (local.get $zp)))
        (local.set $c1l (v128.load32_splat offset=4 (local.get $zp)))
        (local.set $c2l (v128.load32_splat offset=8 (local.get $zp)))
        (local.set $c3l (v128.load32_splat offset=12 (local.get $zp)))
        (local.set $c0h (local.get $c0l)) (local.set $c1h (local.get $c1l))
        (local.set $c2h (local.get $c2l)) (local.set $c3h (local.get $c3l))
        (local.set $kk (local.get $kq))
        (block $done_k (loop $loop_k
          (br_if $done_k (i32.eqz (local.get $kk)))
          (local.set $x0 (v128.load (local.get $bp)))
          (local.set $x1 (v128.load offset=16 (local.get $bp)))
          (local.set $w (v128.load32_splat (local.get $ap)))
          (local.set $c0l (i32x4.dot_i8x16_i7x16_add_s (local.get $x0) (local.get $w) (local.get $c0l)))
          (local.set $c0h (i32x4.dot_i8x16_i7x16_add_s (local.get $x1) (local.get $w) (local.get $c0h)))
          (local.set $w (v128.load32_splat offset=4 (local.get $ap)))
          (local.set $c1l (i32x4.dot_i8x16_i7x16_add_s (local.get $x0) (local.get $w) (local.get $c1l)))
          (local.set $c1h (i32x4.dot_i8x16_i7x16_add_s (local.get $x1) (local.get $w) (local.get $c1h)))
          (local.set $w (v128.load32_splat offset=8 (local.get $ap)))
          (local.set $c2l (i32x4.dot_i8x16_i7x16_add_s (local.get $x0) (local.get $w) (local.get $c2l)))
          (local.set $c2h (i32x4.dot_i8x16_i7x16_add_s (local.get $x1) (local.get $w) (local.get $c2h)))
          (local.set $w (v128.load32_splat offset=12 (local.get $ap)))
          (local.set $c3l (i32x4.dot_i8x16_i7x16_add_s (local.get $x0) (local.get $w) (local.get $c3l)))
          (local.set $c3h (i32x4.dot_i8x16_i7x16_add_s (local.get $x1) (local.get $w) (local.get $c3h)))
          (local.set $ap (i32.add (local.get $ap) (i32.const 16)))
          (local.set $bp (i32.add (local.get $bp) (i32.const 32)))
          (local.set $kk (i32.sub (local.get $kk) (i32.const 1)))
          (br $loop_k)))
        ;; − zw·d, with the panel's window sums d
        (local.set $x0 (v128.load (i32.add (local.get $colsum) (i32.shl (local.get $jp) (i32.const 5)))))
        (local.set $x1 (v128.load offset=16 (i32.add (local.get $colsum) (i32.shl (local.get $jp) (i32.const 5)))))
        (local.set $w (v128.load32_splat offset=16 (local.get $zp)))
        (local.set $c0l (i32x4.sub (local.get $c0l) (i32x4.mul (local.get $w) (local.get $x0))))
        (local.set $c0h (i32x4.sub (local.get $c0h) (i32x4.mul (local.get $w) (local.get $x1))))
        (local.set $w (v128.load32_splat offset=20 (local.get $zp)))
        (local.set $c1l (i32x4.sub (local.get $c1l) (i32x4.mul (local.get $w) (local.get $x0))))
        (local.set $c1h (i32x4.sub (local.get $c1h) (i32x4.mul (local.get $w) (local.get $x1))))
        (local.set $w (v128.load32_splat offset=24 (local.get $zp)))
        (local.set $c2l (i32x4.sub (local.get $c2l) (i32x4.mul (local.get $w) (local.get $x0))))
        (local.set $c2h (i32x4.sub (local.get $c2h) (i32x4.mul (local.get $w) (local.get $x1))))
        (local.set $w (v128.load32_splat offset=28 (local.get $zp)))
        (local.set $c3l (i32x4.sub (local.get $c3l) (i32x4.mul (local.get $w) (local.get $x0))))
        (local.set $c3h (i32x4.sub (local.get $c3h) (i32x4.mul (local.get $w) (local.get $x1))))
        (call $tile_q (local.get $dst) (local.get $ldc) (local.get $colsum) (local.get $par) (local.get $m)
          (local.get $ip) (local.get $jp) (local.get $ppr) (local.get $ow)
          (local.get $c0l) (local.get $c0h) (local.get $c1l) (local.get $c1h)
          (local.get $c2l) (local.get $c2h) (local.get $c3l) (local.get $c3h))
        (local.set $jp (i32.add (local.get $jp) (i32.const 1)))
        (br $loop_j)))
      (local.set $ip (i32.add (local.get $ip) (i32.const 1)))
      (br $loop_i))))
