;; simd.wat — fourbit's WebAssembly SIMD128 kernels for the integer engine in the browser.
;;
;; Go's wasm compiler emits no SIMD instructions, so the engine's hot kernels are written
;; here by hand, in the browser's own assembly language, the way gonum writes its
;; hot loops in assembly. The module imports the Go module's linear memory and works on the
;; buffers the Go engine already owns, in the same packed layouts as the Go kernels
;; (kernels/gemm.go, kernels/igemm.go, kernels/qconv.go): no copies. Go calls the exports through //go:wasmimport
;; (kernels/simd_js.go) and a JavaScript trampoline (www/fourbit-simd.js); the Go kernels stay
;; the portable reference, and the results are the same integers, bit for bit.
;;
;;   gemm_i32 (c ldc a b m k n): C (int64, row-major, leading dimension ldc) = A·B for int32
;;     weights A packed in panels of 2 rows, k-major (PackI32), and int16 values B packed in
;;     panels of 4 columns, k-major (PackBI16 / Im2colI16). Per k: the 4 values are widened
;;     to i32x4, each row's weight is splatted, and i64x2.extmul_{low,high}_i32x4_s give the
;;     exact 64-bit products (the engine's per-channel path, weights folded to 31 bits).
;;   pad_q, im2col_q, gemm_q: kernels.QConv — a conv from uint8 codes (one zero point) to uint8
;;     codes: the im2col matrix as zero-point-subtracted int16 pairs of k, a 4×8 tile of
;;     i32x4.dot_i16x8_s sums against the rows' splatted weight pairs, and the requantization
;;     in f32x4 (the engine's per-tensor path: codes in, codes out, no Go code per value).
;;   add_q: kernels.AddCodes — two code tensors added and requantized per channel.
;;   quant_f32: kernels.QuantizeCodes — float32 values to codes (the float first layer's output).
;;   sgemm: kernels.SgemmPacked — the float GEMM (the first layer, and the float network).
;;   im2col_f32: kernels.Im2colPacked — the float convolution's matrix, from padded planes.
;; The float32 steps follow the Go kernels' order exactly (mul, mul, add, add, nearest, max,
;; min), so the codes are the same, bit for bit.
(module
  (import "go" "mem" (memory 1))

  (func (export "gemm_i32") (param $c i32) (param $ldc i32) (param $a i32) (param $b i32)
        (param $m i32) (param $k i32) (param $n i32)
    (local $ip i32) (local $jp i32) (local $mp i32) (local $np i32)
    (local $ap i32) (local $bp i32) (local $kk i32) (local $h i32) (local $wd i32)
    (local $x v128) (local $a0 v128) (local $a1 v128)
    (local $c0l v128) (local $c0h v128) (local $c1l v128) (local $c1h v128)
    (local $row i32) (local $col i32) (local $dst i32)
    (local.set $mp (i32.div_u (i32.add (local.get $m) (i32.const 1)) (i32.const 2)))
    (local.set $np (i32.div_u (i32.add (local.get $n) (i32.const 3)) (i32.const 4)))
    (local.set $ip (i32.const 0))
    (block $done_i (loop $loop_i
      (br_if $done_i (i32.ge_u (local.get $ip) (local.get $mp)))
      ;; panel of rows ip: k·2 int32
      (local.set $ap (i32.add (local.get $a) (i32.mul (local.get $ip) (i32.shl (local.get $k) (i32.const 3)))))
      (local.set $h (i32.sub (local.get $m) (i32.shl (local.get $ip) (i32.const 1))))
      (local.set $jp (i32.const 0))
      (block $done_j (loop $loop_j
        (br_if $done_j (i32.ge_u (local.get $jp) (local.get $np)))
        ;; panel of columns jp: k·4 int16
        (local.set $bp (i32.add (local.get $b) (i32.mul (local.get $jp) (i32.shl (local.get $k) (i32.const 3)))))
        (local.set $c0l (v128.const i64x2 0 0)) (local.set $c0h (v128.const i64x2 0 0))
        (local.set $c1l (v128.const i64x2 0 0)) (local.set $c1h (v128.const i64x2 0 0))
        (local.set $kk (i32.const 0))
        (block $done_k (loop $loop_k
          (br_if $done_k (i32.ge_u (local.get $kk) (local.get $k)))
          (local.set $x (v128.load16x4_s (i32.add (local.get $bp) (i32.shl (local.get $kk) (i32.const 3)))))
          (local.set $a0 (v128.load32_splat (i32.add (local.get $ap) (i32.shl (local.get $kk) (i32.const 3)))))
          (local.set $a1 (v128.load32_splat offset=4 (i32.add (local.get $ap) (i32.shl (local.get $kk) (i32.const 3)))))
          (local.set $c0l (i64x2.add (local.get $c0l) (i64x2.extmul_low_i32x4_s (local.get $a0) (local.get $x))))
          (local.set $c0h (i64x2.add (local.get $c0h) (i64x2.extmul_high_i32x4_s (local.get $a0) (local.get $x))))
          (local.set $c1l (i64x2.add (local.get $c1l) (i64x2.extmul_low_i32x4_s (local.get $a1) (local.get $x))))
          (local.set $c1h (i64x2.add (local.get $c1h) (i64x2.extmul_high_i32x4_s (local.get $a1) (local.get $x))))
          (local.set $kk (i32.add (local.get $kk) (i32.const 1)))
          (br $loop_k)))
        (local.set $wd (i32.sub (local.get $n) (i32.shl (local.get $jp) (i32.const 2))))
        ;; dst = &C[2·ip][4·jp]
        (local.set $dst (i32.add (local.get $c) (i32.shl
          (i32.add (i32.mul (i32.shl (local.get $ip) (i32.const 1)) (local.get $ldc)) (i32.shl (local.get $jp) (i32.const 2)))
          (i32.const 3))))
        (if (i32.and (i32.ge_s (local.get $h) (i32.const 2)) (i32.ge_s (local.get $wd) (i32.const 4)))
          (then
            (v128.store (local.get $dst) (local.get $c0l))
            (v128.store offset=16 (local.get $dst) (local.get $c0h))
            (local.set $dst (i32.add (local.get $dst) (i32.shl (local.get $ldc) (i32.const 3))))
            (v128.store (local.get $dst) (local.get $c1l))
            (v128.store offset=16 (local.get $dst) (local.get $c1h)))
          (else
            ;; a partial tile at the bottom or right edge: only the valid entries
            (call $store_i64 (local.get $dst) (local.get $c0l) (local.get $c0h) (local.get $wd))
            (if (i32.ge_s (local.get $h) (i32.const 2))
              (then (call $store_i64 (i32.add (local.get $dst) (i32.shl (local.get $ldc) (i32.const 3)))
                (local.get $c1l) (local.get $c1h) (local.get $wd))))))
        (local.set $jp (i32.add (local.get $jp) (i32.const 1)))
        (br $loop_j)))
      (local.set $ip (i32.add (local.get $ip) (i32.const 1)))
      (br $loop_i))))

  ;; store_i64 writes the first w (1..4) of the four int64 in lo, hi to dst.
  (func $store_i64 (param $dst i32) (param $lo v128) (param $hi v128) (param $w i32)
    (i64.store (local.get $dst) (i64x2.extract_lane 0 (local.get $lo)))
    (if (i32.ge_s (local.get $w) (i32.const 2)) (then (i64.store offset=8 (local.get $dst) (i64x2.extract_lane 1 (local.get $lo)))))
    (if (i32.ge_s (local.get $w) (i32.const 3)) (then (i64.store offset=16 (local.get $dst) (i64x2.extract_lane 0 (local.get $hi)))))
    (if (i32.ge_s (local.get $w) (i32.const 4)) (then (i64.store offset=24 (local.get $dst) (i64x2.extract_lane 1 (local.get $hi))))))

  ;; store_i32 writes the first w (1..7) of the eight int32 in lo, hi to dst.
  (func $store_i32 (param $dst i32) (param $lo v128) (param $hi v128) (param $w i32)
    (i32.store (local.get $dst) (i32x4.extract_lane 0 (local.get $lo)))
    (if (i32.gt_s (local.get $w) (i32.const 1)) (then (i32.store offset=4 (local.get $dst) (i32x4.extract_lane 1 (local.get $lo)))))
    (if (i32.gt_s (local.get $w) (i32.const 2)) (then (i32.store offset=8 (local.get $dst) (i32x4.extract_lane 2 (local.get $lo)))))
    (if (i32.gt_s (local.get $w) (i32.const 3)) (then (i32.store offset=12 (local.get $dst) (i32x4.extract_lane 3 (local.get $lo)))))
    (if (i32.gt_s (local.get $w) (i32.const 4)) (then (i32.store offset=16 (local.get $dst) (i32x4.extract_lane 0 (local.get $hi)))))
    (if (i32.gt_s (local.get $w) (i32.const 5)) (then (i32.store offset=20 (local.get $dst) (i32x4.extract_lane 1 (local.get $hi)))))
    (if (i32.gt_s (local.get $w) (i32.const 6)) (then (i32.store offset=24 (local.get $dst) (i32x4.extract_lane 2 (local.get $hi)))))
    (if (i32.gt_s (local.get $w) (i32.const 7)) (then (i32.store offset=28 (local.get $dst) (i32x4.extract_lane 3 (local.get $hi)))))
)

  ;; im2col_q (dst src koff kp oh ppr wp sh sw z kodd colsum): the im2col matrix of one image
  ;;   of uint8 codes for QConv (kernels/qconv.go), as int16 values code − z in pairs of k:
  ;;   panels of 8 output pixels (an output row holds ppr panels; the pixels past the row's end
  ;;   are computed and dropped), per pair 32 bytes — the two k's values of each pixel side
  ;;   by side, what i32x4.dot_i16x8_s multiplies with a row's splatted weight pair. src is
  ;;   the padded input (planes of wp-byte rows filled with z where there is no pixel), koff
  ;;   the byte offset of each k (2·kp of them) from a pixel's window origin, sh/sw the
  ;;   strides (sw 1 or 2). Each column's Σ (a − z) goes to colsum (int32); kodd = K is odd
  ;;   (the last pair's second value then does not count).
  (func (export "im2col_q") (param $dst i32) (param $src i32) (param $koff i32) (param $kp i32)
        (param $oh i32) (param $ppr i32) (param $wp i32) (param $sh i32) (param $sw i32)
        (param $z i32) (param $kodd i32) (param $colsum i32)
    (local $oy i32) (local $px i32) (local $base i32) (local $kk i32) (local $o i32)
    (local $x0 v128) (local $x1 v128) (local $lo v128) (local $hi v128)
    (local $zv v128) (local $ones v128) (local $s0 v128) (local $s1 v128) (local $last i32)
    (local.set $zv (i16x8.splat (local.get $z)))
    (local.set $last (if (result i32) (local.get $kodd)
      (then (i32.sub (local.get $kp) (i32.const 1))) (else (i32.const -1))))
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
        (local.set $ones (v128.const i16x8 1 1 1 1 1 1 1 1))
        (local.set $kk (i32.const 0))
        (block $done_k (loop $loop_k
          (br_if $done_k (i32.ge_u (local.get $kk) (local.get $kp)))
          (local.set $o (i32.add (local.get $koff) (i32.shl (local.get $kk) (i32.const 3))))
          (if (i32.eq (local.get $sw) (i32.const 1))
            (then
              (local.set $x0 (v128.load64_zero (i32.add (local.get $base) (i32.load (local.get $o)))))
              (local.set $x1 (v128.load64_zero (i32.add (local.get $base) (i32.load offset=4 (local.get $o))))))
            (else
              (local.set $x0 (i8x16.shuffle 0 2 4 6 8 10 12 14 0 0 0 0 0 0 0 0
                (v128.load (i32.add (local.get $base) (i32.load (local.get $o)))) (local.get $zv)))
              (local.set $x1 (i8x16.shuffle 0 2 4 6 8 10 12 14 0 0 0 0 0 0 0 0
                (v128.load (i32.add (local.get $base) (i32.load offset=4 (local.get $o)))) (local.get $zv)))))
          (local.set $x0 (i16x8.sub (i16x8.extend_low_i8x16_u (local.get $x0)) (local.get $zv)))
          (local.set $x1 (i16x8.sub (i16x8.extend_low_i8x16_u (local.get $x1)) (local.get $zv)))
          (local.set $lo (i8x16.shuffle 0 1 16 17 2 3 18 19 4 5 20 21 6 7 22 23 (local.get $x0) (local.get $x1)))
          (local.set $hi (i8x16.shuffle 8 9 24 25 10 11 26 27 12 13 28 29 14 15 30 31 (local.get $x0) (local.get $x1)))
          (v128.store (local.get $dst) (local.get $lo))
          (v128.store offset=16 (local.get $dst) (local.get $hi))
          (if (i32.eq (local.get $kk) (local.get $last))
            (then (local.set $ones (v128.const i16x8 1 0 1 0 1 0 1 0))))
          (local.set $s0 (i32x4.add (local.get $s0) (i32x4.dot_i16x8_s (local.get $lo) (local.get $ones))))
          (local.set $s1 (i32x4.add (local.get $s1) (i32x4.dot_i16x8_s (local.get $hi) (local.get $ones))))
          (local.set $dst (i32.add (local.get $dst) (i32.const 32)))
          (local.set $kk (i32.add (local.get $kk) (i32.const 1)))
          (br $loop_k)))
        (v128.store (local.get $colsum) (local.get $s0))
        (v128.store offset=16 (local.get $colsum) (local.get $s1))
        (local.set $colsum (i32.add (local.get $colsum) (i32.const 32)))
        (local.set $px (i32.add (local.get $px) (i32.const 1)))
        (br $loop_x)))
      (local.set $oy (i32.add (local.get $oy) (i32.const 1)))
      (br $loop_y))))

  ;; pad_q (dst src inc inh inw hp wp padt padl z size): QConv's padded input — size bytes at
  ;;   dst filled with the zero point z, then each of the inc·inh input rows of inw codes copied
  ;;   to its place (row padt + y, column padl of planes of hp rows of wp bytes).
  (func (export "pad_q") (param $dst i32) (param $src i32) (param $inc i32) (param $inh i32) (param $inw i32)
        (param $hp i32) (param $wp i32) (param $padt i32) (param $padl i32) (param $z i32) (param $size i32)
    (local $i i32) (local $zv v128) (local $row i32) (local $rows i32) (local $d i32) (local $s i32)
    (local.set $zv (i8x16.splat (local.get $z)))
    (local.set $i (i32.const 0))
    (block $done_f (loop $loop_f
      (br_if $done_f (i32.gt_u (i32.add (local.get $i) (i32.const 16)) (local.get $size)))
      (v128.store (i32.add (local.get $dst) (local.get $i)) (local.get $zv))
      (local.set $i (i32.add (local.get $i) (i32.const 16)))
      (br $loop_f)))
    (block $done_t (loop $loop_t
      (br_if $done_t (i32.ge_u (local.get $i) (local.get $size)))
      (i32.store8 (i32.add (local.get $dst) (local.get $i)) (local.get $z))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $loop_t)))
    (local.set $rows (i32.mul (local.get $inc) (local.get $inh)))
    (local.set $s (local.get $src))
    (local.set $row (i32.const 0))
    (block $done_r (loop $loop_r
      (br_if $done_r (i32.ge_u (local.get $row) (local.get $rows)))
      ;; row (ci, y) = (row / inh, row mod inh) goes to plane ci, padded row padt + y
      (local.set $d (i32.add (local.get $dst) (i32.add (local.get $padl) (i32.mul (local.get $wp)
        (i32.add (i32.mul (i32.div_u (local.get $row) (local.get $inh)) (local.get $hp))
          (i32.add (i32.rem_u (local.get $row) (local.get $inh)) (local.get $padt)))))))
      (local.set $i (i32.const 0))
      (block $done_16 (loop $loop_16
        (br_if $done_16 (i32.gt_u (i32.add (local.get $i) (i32.const 16)) (local.get $inw)))
        (v128.store (i32.add (local.get $d) (local.get $i)) (v128.load (i32.add (local.get $s) (local.get $i))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $loop_16)))
      (if (i32.le_u (i32.add (local.get $i) (i32.const 8)) (local.get $inw)) (then
        (i64.store (i32.add (local.get $d) (local.get $i)) (i64.load (i32.add (local.get $s) (local.get $i))))
        (local.set $i (i32.add (local.get $i) (i32.const 8)))))
      (block $done_1 (loop $loop_1
        (br_if $done_1 (i32.ge_u (local.get $i) (local.get $inw)))
        (i32.store8 (i32.add (local.get $d) (local.get $i)) (i32.load8_u (i32.add (local.get $s) (local.get $i))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $loop_1)))
      (local.set $s (i32.add (local.get $s) (local.get $inw)))
      (local.set $row (i32.add (local.get $row) (i32.const 1)))
      (br $loop_r))))

  ;; gemm_q (dst ldc a b colsum par m kp oh ppr ow): QConv's GEMM and requantization. A holds
  ;;   the weights (code − zw) as int16 pairs, panels of 4 rows, per pair 16 bytes (row r's
  ;;   two values at 4r); B and colsum come from im2col_q. A 4×8 tile accumulates in int32
  ;;   with i32x4.dot_i16x8_s; then each row's sums become codes in float32 —
  ;;   roundEven(v·mul + d·off + add) clamped to [lo, hi] (par: 5 float32 per row) — and the
  ;;   valid pixels are stored as bytes at dst + row·ldc + oy·ow + ox.
  (func (export "gemm_q") (param $dst i32) (param $ldc i32) (param $a i32) (param $b i32)
        (param $colsum i32) (param $par i32) (param $m i32) (param $kp i32) (param $oh i32)
        (param $ppr i32) (param $ow i32)
    (local $ip i32) (local $jp i32) (local $mp i32) (local $np i32) (local $ap i32) (local $bp i32)
    (local $kk i32) (local $x0 v128) (local $x1 v128) (local $w v128)
    (local $c0l v128) (local $c0h v128) (local $c1l v128) (local $c1h v128)
    (local $c2l v128) (local $c2h v128) (local $c3l v128) (local $c3h v128)
    (local.set $mp (i32.shr_u (i32.add (local.get $m) (i32.const 3)) (i32.const 2)))
    (local.set $np (i32.mul (local.get $oh) (local.get $ppr)))
    (local.set $ip (i32.const 0))
    (block $done_i (loop $loop_i
      (br_if $done_i (i32.ge_u (local.get $ip) (local.get $mp)))
      (local.set $jp (i32.const 0))
      (block $done_j (loop $loop_j
        (br_if $done_j (i32.ge_u (local.get $jp) (local.get $np)))
        (local.set $ap (i32.add (local.get $a) (i32.mul (local.get $ip) (i32.shl (local.get $kp) (i32.const 4)))))
        (local.set $bp (i32.add (local.get $b) (i32.mul (local.get $jp) (i32.shl (local.get $kp) (i32.const 5)))))
        (local.set $c0l (v128.const i32x4 0 0 0 0)) (local.set $c0h (v128.const i32x4 0 0 0 0))
        (local.set $c1l (v128.const i32x4 0 0 0 0)) (local.set $c1h (v128.const i32x4 0 0 0 0))
        (local.set $c2l (v128.const i32x4 0 0 0 0)) (local.set $c2h (v128.const i32x4 0 0 0 0))
        (local.set $c3l (v128.const i32x4 0 0 0 0)) (local.set $c3h (v128.const i32x4 0 0 0 0))
        (local.set $kk (local.get $kp))
        (block $done_k (loop $loop_k
          (br_if $done_k (i32.eqz (local.get $kk)))
          (local.set $x0 (v128.load (local.get $bp)))
          (local.set $x1 (v128.load offset=16 (local.get $bp)))
          (local.set $w (v128.load32_splat (local.get $ap)))
          (local.set $c0l (i32x4.add (local.get $c0l) (i32x4.dot_i16x8_s (local.get $x0) (local.get $w))))
          (local.set $c0h (i32x4.add (local.get $c0h) (i32x4.dot_i16x8_s (local.get $x1) (local.get $w))))
          (local.set $w (v128.load32_splat offset=4 (local.get $ap)))
          (local.set $c1l (i32x4.add (local.get $c1l) (i32x4.dot_i16x8_s (local.get $x0) (local.get $w))))
          (local.set $c1h (i32x4.add (local.get $c1h) (i32x4.dot_i16x8_s (local.get $x1) (local.get $w))))
          (local.set $w (v128.load32_splat offset=8 (local.get $ap)))
          (local.set $c2l (i32x4.add (local.get $c2l) (i32x4.dot_i16x8_s (local.get $x0) (local.get $w))))
          (local.set $c2h (i32x4.add (local.get $c2h) (i32x4.dot_i16x8_s (local.get $x1) (local.get $w))))
          (local.set $w (v128.load32_splat offset=12 (local.get $ap)))
          (local.set $c3l (i32x4.add (local.get $c3l) (i32x4.dot_i16x8_s (local.get $x0) (local.get $w))))
          (local.set $c3h (i32x4.add (local.get $c3h) (i32x4.dot_i16x8_s (local.get $x1) (local.get $w))))
          (local.set $ap (i32.add (local.get $ap) (i32.const 16)))
          (local.set $bp (i32.add (local.get $bp) (i32.const 32)))
          (local.set $kk (i32.sub (local.get $kk) (i32.const 1)))
          (br $loop_k)))
        (call $tile_q (local.get $dst) (local.get $ldc) (local.get $colsum) (local.get $par) (local.get $m)
          (local.get $ip) (local.get $jp) (local.get $ppr) (local.get $ow)
          (local.get $c0l) (local.get $c0h) (local.get $c1l) (local.get $c1h)
          (local.get $c2l) (local.get $c2h) (local.get $c3l) (local.get $c3h))
        (local.set $jp (i32.add (local.get $jp) (i32.const 1)))
        (br $loop_j)))
      (local.set $ip (i32.add (local.get $ip) (i32.const 1)))
      (br $loop_i))))

  ;; tile_q: the epilogue of gemm_q and gemm_q4 — a 4×8 tile of int32 sums (rows 4·ip…,
  ;; panel jp of 8 pixels) requantized row by row with the panel's window sums and stored
  ;; (only the rows below m and the pixels inside the output row).
  (func $tile_q (param $dst i32) (param $ldc i32) (param $colsum i32) (param $par i32) (param $m i32)
        (param $ip i32) (param $jp i32) (param $ppr i32) (param $ow i32)
        (param $c0l v128) (param $c0h v128) (param $c1l v128) (param $c1h v128)
        (param $c2l v128) (param $c2h v128) (param $c3l v128) (param $c3h v128)
    (local $d0 v128) (local $d1 v128) (local $row i32) (local $out i32) (local $wd i32) (local $ox i32)
    (local.set $ox (i32.shl (i32.rem_u (local.get $jp) (local.get $ppr)) (i32.const 3)))
    (local.set $wd (i32.sub (local.get $ow) (local.get $ox)))
    (local.set $out (i32.add (local.get $dst) (i32.add
      (i32.mul (i32.div_u (local.get $jp) (local.get $ppr)) (local.get $ow)) (local.get $ox))))
    (local.set $d0 (f32x4.convert_i32x4_s (v128.load (i32.add (local.get $colsum) (i32.shl (local.get $jp) (i32.const 5))))))
    (local.set $d1 (f32x4.convert_i32x4_s (v128.load offset=16 (i32.add (local.get $colsum) (i32.shl (local.get $jp) (i32.const 5))))))
    (local.set $row (i32.shl (local.get $ip) (i32.const 2)))
    (call $requant (i32.add (local.get $out) (i32.mul (local.get $row) (local.get $ldc)))
      (local.get $c0l) (local.get $c0h) (local.get $d0) (local.get $d1)
      (i32.add (local.get $par) (i32.mul (local.get $row) (i32.const 20))) (local.get $wd))
    (local.set $row (i32.add (local.get $row) (i32.const 1)))
    (if (i32.lt_u (local.get $row) (local.get $m)) (then
      (call $requant (i32.add (local.get $out) (i32.mul (local.get $row) (local.get $ldc)))
        (local.get $c1l) (local.get $c1h) (local.get $d0) (local.get $d1)
        (i32.add (local.get $par) (i32.mul (local.get $row) (i32.const 20))) (local.get $wd))))
    (local.set $row (i32.add (local.get $row) (i32.const 1)))
    (if (i32.lt_u (local.get $row) (local.get $m)) (then
      (call $requant (i32.add (local.get $out) (i32.mul (local.get $row) (local.get $ldc)))
        (local.get $c2l) (local.get $c2h) (local.get $d0) (local.get $d1)
        (i32.add (local.get $par) (i32.mul (local.get $row) (i32.const 20))) (local.get $wd))))
    (local.set $row (i32.add (local.get $row) (i32.const 1)))
    (if (i32.lt_u (local.get $row) (local.get $m)) (then
      (call $requant (i32.add (local.get $out) (i32.mul (local.get $row) (local.get $ldc)))
        (local.get $c3l) (local.get $c3h) (local.get $d0) (local.get $d1)
        (i32.add (local.get $par) (i32.mul (local.get $row) (i32.const 20))) (local.get $wd)))))

  ;; requant: 8 sums (lo/hi: pixels 0..3, 4..7) and their window sums d0/d1 to codes with
  ;; the row's parameters at $p (mul off add lo hi); stores the first $wd (≥ 1) of them.
  (func $requant (param $dst i32) (param $a0 v128) (param $a1 v128) (param $d0 v128) (param $d1 v128)
        (param $p i32) (param $wd i32)
    (local $mul v128) (local $off v128) (local $add v128) (local $lo v128) (local $hi v128)
    (local $q v128) (local $x i64) (local $i i32)
    (local.set $mul (v128.load32_splat (local.get $p)))
    (local.set $off (v128.load32_splat offset=4 (local.get $p)))
    (local.set $add (v128.load32_splat offset=8 (local.get $p)))
    (local.set $lo (v128.load32_splat offset=12 (local.get $p)))
    (local.set $hi (v128.load32_splat offset=16 (local.get $p)))
    (local.set $a0 (f32x4.add (f32x4.add (f32x4.mul (f32x4.convert_i32x4_s (local.get $a0)) (local.get $mul))
      (f32x4.mul (local.get $d0) (local.get $off))) (local.get $add)))
    (local.set $a1 (f32x4.add (f32x4.add (f32x4.mul (f32x4.convert_i32x4_s (local.get $a1)) (local.get $mul))
      (f32x4.mul (local.get $d1) (local.get $off))) (local.get $add)))
    (local.set $a0 (f32x4.min (f32x4.max (f32x4.nearest (local.get $a0)) (local.get $lo)) (local.get $hi)))
    (local.set $a1 (f32x4.min (f32x4.max (f32x4.nearest (local.get $a1)) (local.get $lo)) (local.get $hi)))
    (local.set $q (i16x8.narrow_i32x4_s (i32x4.trunc_sat_f32x4_s (local.get $a0)) (i32x4.trunc_sat_f32x4_s (local.get $a1))))
    (local.set $q (i8x16.narrow_i16x8_u (local.get $q) (local.get $q)))
    (if (i32.ge_s (local.get $wd) (i32.const 8))
      (then (v128.store64_lane 0 (local.get $dst) (local.get $q)))
      (else
        (local.set $x (i64x2.extract_lane 0 (local.get $q)))
        (local.set $i (i32.const 0))
        (block $done (loop $loop
          (br_if $done (i32.ge_s (local.get $i) (local.get $wd)))
          (i32.store8 (i32.add (local.get $dst) (local.get $i)) (i32.wrap_i64 (local.get $x)))
          (local.set $x (i64.shr_u (local.get $x) (i64.const 8)))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $loop))))))

  ;; add_q (dst a b inner n par channels): kernels.AddCodes — two tensors of uint8 codes added
  ;;   and requantized per channel with fake quantization's arithmetic (par: 8 float64 per
  ;;   channel, Za Sa Zb Sb Zo So Lo Hi; n codes in all, channels×inner per image): each input
  ;;   dequantized in f64x2 and demoted to f32, the f32x4 sum promoted back, divided by So,
  ;;   Zo added, rounded half away from zero (trunc, then ±1 where the fraction is ≥ ½),
  ;;   clamped. 16 codes at a time; the tail of a channel (< 16 codes) one at a time.
  (func (export "add_q") (param $dst i32) (param $a i32) (param $b i32) (param $inner i32)
        (param $n i32) (param $par i32) (param $channels i32)
    (local $i i32) (local $ch i32) (local $p i32) (local $j i32) (local $end i32) (local $k i32)
    (local $za v128) (local $sa v128) (local $zb v128) (local $sb v128) (local $zo v128) (local $so v128)
    (local $lo v128) (local $hi v128) (local $zm v128)
    (local $va v128) (local $vb v128) (local $y0 v128) (local $y1 v128) (local $y2 v128) (local $y3 v128)
    (local.set $i (i32.const 0))
    (local.set $ch (i32.const 0))
    (block $done (loop $loop
      (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
      (local.set $p (i32.add (local.get $par) (i32.shl (local.get $ch) (i32.const 6))))
      (local.set $za (v128.load64_splat (local.get $p)))
      (local.set $sa (v128.load64_splat offset=8 (local.get $p)))
      (local.set $zb (v128.load64_splat offset=16 (local.get $p)))
      (local.set $sb (v128.load64_splat offset=24 (local.get $p)))
      (local.set $zo (v128.load64_splat offset=32 (local.get $p)))
      (local.set $so (v128.load64_splat offset=40 (local.get $p)))
      (local.set $lo (v128.load64_splat offset=48 (local.get $p)))
      (local.set $hi (v128.load64_splat offset=56 (local.get $p)))
      (local.set $zm (f64x2.eq (local.get $so) (v128.const f64x2 0 0)))
      (local.set $end (i32.add (local.get $i) (local.get $inner)))
      (local.set $j (local.get $i))
      (block $done16 (loop $loop16
        (br_if $done16 (i32.gt_u (i32.add (local.get $j) (i32.const 16)) (local.get $end)))
        (local.set $va (v128.load (i32.add (local.get $a) (local.get $j))))
        (local.set $vb (v128.load (i32.add (local.get $b) (local.get $j))))
        (local.set $y0 (call $add4
          (i32x4.extend_low_i16x8_u (i16x8.extend_low_i8x16_u (local.get $va)))
          (i32x4.extend_low_i16x8_u (i16x8.extend_low_i8x16_u (local.get $vb)))
          (local.get $za) (local.get $sa) (local.get $zb) (local.get $sb) (local.get $zo) (local.get $so)
          (local.get $lo) (local.get $hi) (local.get $zm)))
        (local.set $y1 (call $add4
          (i32x4.extend_high_i16x8_u (i16x8.extend_low_i8x16_u (local.get $va)))
          (i32x4.extend_high_i16x8_u (i16x8.extend_low_i8x16_u (local.get $vb)))
          (local.get $za) (local.get $sa) (local.get $zb) (local.get $sb) (local.get $zo) (local.get $so)
          (local.get $lo) (local.get $hi) (local.get $zm)))
        (local.set $y2 (call $add4
          (i32x4.extend_low_i16x8_u (i16x8.extend_high_i8x16_u (local.get $va)))
          (i32x4.extend_low_i16x8_u (i16x8.extend_high_i8x16_u (local.get $vb)))
          (local.get $za) (local.get $sa) (local.get $zb) (local.get $sb) (local.get $zo) (local.get $so)
          (local.get $lo) (local.get $hi) (local.get $zm)))
        (local.set $y3 (call $add4
          (i32x4.extend_high_i16x8_u (i16x8.extend_high_i8x16_u (local.get $va)))
          (i32x4.extend_high_i16x8_u (i16x8.extend_high_i8x16_u (local.get $vb)))
          (local.get $za) (local.get $sa) (local.get $zb) (local.get $sb) (local.get $zo) (local.get $so)
          (local.get $lo) (local.get $hi) (local.get $zm)))
        (v128.store (i32.add (local.get $dst) (local.get $j))
          (i8x16.narrow_i16x8_u (i16x8.narrow_i32x4_s (local.get $y0) (local.get $y1))
                                (i16x8.narrow_i32x4_s (local.get $y2) (local.get $y3))))
        (local.set $j (i32.add (local.get $j) (i32.const 16)))
        (br $loop16)))
      ;; the last < 16 codes of the channel, one at a time in lane 0
      (block $done4 (loop $loop4
        (br_if $done4 (i32.ge_u (local.get $j) (local.get $end)))
        (local.set $va (v128.const i32x4 0 0 0 0))
        (local.set $vb (v128.const i32x4 0 0 0 0))
        (local.set $va (i32x4.replace_lane 0 (local.get $va) (i32.load8_u (i32.add (local.get $a) (local.get $j)))))
        (local.set $vb (i32x4.replace_lane 0 (local.get $vb) (i32.load8_u (i32.add (local.get $b) (local.get $j)))))
        (local.set $y0 (call $add4 (local.get $va) (local.get $vb)
          (local.get $za) (local.get $sa) (local.get $zb) (local.get $sb) (local.get $zo) (local.get $so)
          (local.get $lo) (local.get $hi) (local.get $zm)))
        (i32.store8 (i32.add (local.get $dst) (local.get $j)) (i32x4.extract_lane 0 (local.get $y0)))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br $loop4)))
      (local.set $i (local.get $end))
      (local.set $ch (i32.add (local.get $ch) (i32.const 1)))
      (if (i32.ge_u (local.get $ch) (local.get $channels)) (then (local.set $ch (i32.const 0))))
      (br $loop))))

  ;; add4: four codes of add_q (a and b as int32 lanes) to four int32 codes.
  (func $add4 (param $a v128) (param $b v128) (param $za v128) (param $sa v128) (param $zb v128)
        (param $sb v128) (param $zo v128) (param $so v128) (param $lo v128) (param $hi v128) (param $zm v128)
        (result v128)
    (local $y v128)
    (local.set $y (f32x4.add
      (call $deq4 (local.get $a) (local.get $za) (local.get $sa))
      (call $deq4 (local.get $b) (local.get $zb) (local.get $sb))))
    (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23
      (i32x4.trunc_sat_f64x2_s_zero (call $quant2 (f64x2.promote_low_f32x4 (local.get $y))
        (local.get $zo) (local.get $so) (local.get $lo) (local.get $hi) (local.get $zm)))
      (i32x4.trunc_sat_f64x2_s_zero (call $quant2 (f64x2.promote_low_f32x4
        (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $y) (local.get $y)))
        (local.get $zo) (local.get $so) (local.get $lo) (local.get $hi) (local.get $zm)))))

  ;; deq4: four int32 codes dequantized, (c − z)·s in float64, each rounded to float32.
  (func $deq4 (param $c v128) (param $z v128) (param $s v128) (result v128)
    (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23
      (f32x4.demote_f64x2_zero (f64x2.mul (f64x2.sub (f64x2.convert_low_i32x4_s (local.get $c)) (local.get $z)) (local.get $s)))
      (f32x4.demote_f64x2_zero (f64x2.mul (f64x2.sub (f64x2.convert_low_i32x4_s
        (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $c) (local.get $c))) (local.get $z)) (local.get $s)))))

  ;; quant2: y/So + Zo (Zo where So = 0) rounded half away from zero and clamped, in float64.
  (func $quant2 (param $y v128) (param $zo v128) (param $so v128) (param $lo v128) (param $hi v128)
        (param $zm v128) (result v128)
    (local $v v128) (local $t v128)
    (local.set $v (v128.bitselect (local.get $zo)
      (f64x2.add (f64x2.div (local.get $y) (local.get $so)) (local.get $zo)) (local.get $zm)))
    (local.set $t (f64x2.trunc (local.get $v)))
    (local.set $t (f64x2.add (local.get $t) (v128.and
      (v128.or (v128.and (local.get $v) (v128.const i64x2 0x8000000000000000 0x8000000000000000)) (v128.const f64x2 1 1))
      (f64x2.ge (f64x2.abs (f64x2.sub (local.get $v) (local.get $t))) (v128.const f64x2 0.5 0.5)))))
    (f64x2.min (f64x2.max (local.get $t) (local.get $lo)) (local.get $hi)))

  ;; im2col_f32 (dst pad koff k oh ow wp sh sw): kernels.Im2colPacked from one group's planes
  ;;   copied with their padding written as 0 (pad; rows of wp floats): the K×N matrix in
  ;;   panels of 4 columns, k-major, as SgemmPacked reads it. koff is each k's byte offset from
  ;;   an output pixel's window origin. Each k's row is filled output row by output row; four
  ;;   columns of one panel that are consecutive pixels at stride 1 are one v128, the others
  ;;   are copied one by one (as 32-bit words: the float bits are copied, never computed).
  (func (export "im2col_f32") (param $dst i32) (param $pad i32) (param $koff i32) (param $k i32)
        (param $oh i32) (param $ow i32) (param $wp i32) (param $sh i32) (param $sw i32)
    (local $kk i32) (local $oy i32) (local $ox i32) (local $j i32) (local $rb i32) (local $rowstep i32)
    (local.set $rowstep (i32.shl (i32.mul (local.get $sh) (local.get $wp)) (i32.const 2)))
    (local.set $kk (i32.const 0))
    (block $done_k (loop $loop_k
      (br_if $done_k (i32.ge_u (local.get $kk) (local.get $k)))
      (local.set $rb (i32.add (local.get $pad) (i32.load (i32.add (local.get $koff) (i32.shl (local.get $kk) (i32.const 2))))))
      (local.set $j (i32.const 0))
      (local.set $oy (i32.const 0))
      (block $done_y (loop $loop_y
        (br_if $done_y (i32.ge_u (local.get $oy) (local.get $oh)))
        (local.set $ox (i32.const 0))
        (block $done_x (loop $loop_x
          (br_if $done_x (i32.ge_u (local.get $ox) (local.get $ow)))
          (if (i32.and (i32.and (i32.eq (local.get $sw) (i32.const 1)) (i32.eqz (i32.and (local.get $j) (i32.const 3))))
                (i32.ge_s (i32.sub (local.get $ow) (local.get $ox)) (i32.const 4)))
            (then
              (v128.store (i32.add (local.get $dst) (i32.shl (i32.add (i32.mul (i32.shr_u (local.get $j) (i32.const 2)) (local.get $k)) (local.get $kk)) (i32.const 4)))
                (v128.load (i32.add (local.get $rb) (i32.shl (local.get $ox) (i32.const 2)))))
              (local.set $ox (i32.add (local.get $ox) (i32.const 4)))
              (local.set $j (i32.add (local.get $j) (i32.const 4))))
            (else
              (i32.store (i32.add (i32.add (local.get $dst) (i32.shl (i32.add (i32.mul (i32.shr_u (local.get $j) (i32.const 2)) (local.get $k)) (local.get $kk)) (i32.const 4)))
                  (i32.shl (i32.and (local.get $j) (i32.const 3)) (i32.const 2)))
                (i32.load (i32.add (local.get $rb) (i32.shl (i32.mul (local.get $ox) (local.get $sw)) (i32.const 2)))))
              (local.set $ox (i32.add (local.get $ox) (i32.const 1)))
              (local.set $j (i32.add (local.get $j) (i32.const 1)))))
          (br $loop_x)))
        (local.set $rb (i32.add (local.get $rb) (local.get $rowstep)))
        (local.set $oy (i32.add (local.get $oy) (i32.const 1)))
        (br $loop_y)))
      (local.set $kk (i32.add (local.get $kk) (i32.const 1)))
      (br $loop_k))))

  ;; sgemm (c ldc a b m k n bias): kernels.SgemmPacked — C = A·B (+ bias per row, 0 for none)
  ;;   in float32, A packed in panels of 2 rows ([k][2]), B in panels of 4 columns ([k][4]);
  ;;   a 2×8 tile (two B panels) of f32x4 sums, each product rounded before it is added, in
  ;;   k order from +0, then the bias added: the Go kernel's arithmetic, the same bits.
  (func (export "sgemm") (param $c i32) (param $ldc i32) (param $a i32) (param $b i32)
        (param $m i32) (param $k i32) (param $n i32) (param $bias i32)
    (local $ip i32) (local $jp i32) (local $mp i32) (local $np i32) (local $h i32) (local $two i32)
    (local $ap i32) (local $bp0 i32) (local $bp1 i32) (local $kk i32) (local $wd i32) (local $dst i32)
    (local $x0 v128) (local $x1 v128) (local $w0 v128) (local $w1 v128)
    (local $c00 v128) (local $c01 v128) (local $c10 v128) (local $c11 v128)
    (local $bias0 v128) (local $bias1 v128)
    (local.set $mp (i32.shr_u (i32.add (local.get $m) (i32.const 1)) (i32.const 1)))
    (local.set $np (i32.shr_u (i32.add (local.get $n) (i32.const 3)) (i32.const 2)))
    (local.set $ip (i32.const 0))
    (block $done_i (loop $loop_i
      (br_if $done_i (i32.ge_u (local.get $ip) (local.get $mp)))
      (local.set $ap (i32.add (local.get $a) (i32.mul (local.get $ip) (i32.shl (local.get $k) (i32.const 3)))))
      (local.set $h (i32.sub (local.get $m) (i32.shl (local.get $ip) (i32.const 1))))
      (local.set $bias0 (v128.const f32x4 0 0 0 0))
      (local.set $bias1 (v128.const f32x4 0 0 0 0))
      (if (local.get $bias) (then
        (local.set $bias0 (v128.load32_splat (i32.add (local.get $bias) (i32.shl (local.get $ip) (i32.const 3)))))
        (if (i32.ge_s (local.get $h) (i32.const 2)) (then
          (local.set $bias1 (v128.load32_splat offset=4 (i32.add (local.get $bias) (i32.shl (local.get $ip) (i32.const 3)))))))))
      (local.set $jp (i32.const 0))
      (block $done_j (loop $loop_j
        (br_if $done_j (i32.ge_u (local.get $jp) (local.get $np)))
        (local.set $two (i32.lt_u (i32.add (local.get $jp) (i32.const 1)) (local.get $np)))
        (local.set $bp0 (i32.add (local.get $b) (i32.mul (local.get $jp) (i32.shl (local.get $k) (i32.const 4)))))
        (local.set $bp1 (i32.add (local.get $bp0) (i32.shl (local.get $k) (i32.const 4))))
        (local.set $c00 (v128.const f32x4 0 0 0 0)) (local.set $c01 (v128.const f32x4 0 0 0 0))
        (local.set $c10 (v128.const f32x4 0 0 0 0)) (local.set $c11 (v128.const f32x4 0 0 0 0))
        (local.set $kk (i32.const 0))
        (if (local.get $two)
          (then
            (block $done_k (loop $loop_k
              (br_if $done_k (i32.ge_u (local.get $kk) (local.get $k)))
              (local.set $x0 (v128.load (i32.add (local.get $bp0) (i32.shl (local.get $kk) (i32.const 4)))))
              (local.set $x1 (v128.load (i32.add (local.get $bp1) (i32.shl (local.get $kk) (i32.const 4)))))
              (local.set $w0 (v128.load32_splat (i32.add (local.get $ap) (i32.shl (local.get $kk) (i32.const 3)))))
              (local.set $w1 (v128.load32_splat offset=4 (i32.add (local.get $ap) (i32.shl (local.get $kk) (i32.const 3)))))
              (local.set $c00 (f32x4.add (local.get $c00) (f32x4.mul (local.get $w0) (local.get $x0))))
              (local.set $c01 (f32x4.add (local.get $c01) (f32x4.mul (local.get $w0) (local.get $x1))))
              (local.set $c10 (f32x4.add (local.get $c10) (f32x4.mul (local.get $w1) (local.get $x0))))
              (local.set $c11 (f32x4.add (local.get $c11) (f32x4.mul (local.get $w1) (local.get $x1))))
              (local.set $kk (i32.add (local.get $kk) (i32.const 1)))
              (br $loop_k))))
          (else
            (block $done_k1 (loop $loop_k1
              (br_if $done_k1 (i32.ge_u (local.get $kk) (local.get $k)))
              (local.set $x0 (v128.load (i32.add (local.get $bp0) (i32.shl (local.get $kk) (i32.const 4)))))
              (local.set $w0 (v128.load32_splat (i32.add (local.get $ap) (i32.shl (local.get $kk) (i32.const 3)))))
              (local.set $w1 (v128.load32_splat offset=4 (i32.add (local.get $ap) (i32.shl (local.get $kk) (i32.const 3)))))
              (local.set $c00 (f32x4.add (local.get $c00) (f32x4.mul (local.get $w0) (local.get $x0))))
              (local.set $c10 (f32x4.add (local.get $c10) (f32x4.mul (local.get $w1) (local.get $x0))))
              (local.set $kk (i32.add (local.get $kk) (i32.const 1)))
              (br $loop_k1)))))
        (local.set $c00 (f32x4.add (local.get $c00) (local.get $bias0)))
        (local.set $c01 (f32x4.add (local.get $c01) (local.get $bias0)))
        (local.set $c10 (f32x4.add (local.get $c10) (local.get $bias1)))
        (local.set $c11 (f32x4.add (local.get $c11) (local.get $bias1)))
        ;; valid columns: up to 8 with two panels, 4 with one
        (local.set $wd (i32.sub (local.get $n) (i32.shl (local.get $jp) (i32.const 2))))
        (if (i32.eqz (local.get $two)) (then (if (i32.gt_s (local.get $wd) (i32.const 4)) (then (local.set $wd (i32.const 4))))))
        (local.set $dst (i32.add (local.get $c) (i32.shl
          (i32.add (i32.mul (i32.shl (local.get $ip) (i32.const 1)) (local.get $ldc)) (i32.shl (local.get $jp) (i32.const 2)))
          (i32.const 2))))
        (call $store_i32 (local.get $dst) (local.get $c00) (local.get $c01) (local.get $wd))
        (if (i32.ge_s (local.get $h) (i32.const 2)) (then
          (call $store_i32 (i32.add (local.get $dst) (i32.shl (local.get $ldc) (i32.const 2)))
            (local.get $c10) (local.get $c11) (local.get $wd))))
        (local.set $jp (i32.add (local.get $jp) (i32.add (i32.const 1) (local.get $two))))
        (br $loop_j)))
      (local.set $ip (i32.add (local.get $ip) (i32.const 1)))
      (br $loop_i))))

  ;; quant_f32 (dst x inner n par channels): kernels.QuantizeCodes — float32 values to uint8
  ;;   codes per channel with quant.Quantizer's arithmetic (par: 4 float64 per channel,
  ;;   Scale Zero Lo Hi): NaN as 0, promoted to float64, x/Scale + Zero (Zero where Scale is
  ;;   0) rounded half away from zero, clamped; 4 values at a time, a channel's tail one by one.
  (func (export "quant_f32") (param $dst i32) (param $x i32) (param $inner i32) (param $n i32)
        (param $par i32) (param $channels i32)
    (local $i i32) (local $ch i32) (local $p i32) (local $j i32) (local $end i32)
    (local $so v128) (local $zo v128) (local $lo v128) (local $hi v128) (local $zm v128)
    (local $v v128) (local $q v128)
    (local.set $i (i32.const 0))
    (local.set $ch (i32.const 0))
    (block $done (loop $loop
      (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
      (local.set $p (i32.add (local.get $par) (i32.shl (local.get $ch) (i32.const 5))))
      (local.set $so (v128.load64_splat (local.get $p)))
      (local.set $zo (v128.load64_splat offset=8 (local.get $p)))
      (local.set $lo (v128.load64_splat offset=16 (local.get $p)))
      (local.set $hi (v128.load64_splat offset=24 (local.get $p)))
      (local.set $zm (f64x2.eq (local.get $so) (v128.const f64x2 0 0)))
      (local.set $end (i32.add (local.get $i) (local.get $inner)))
      (local.set $j (local.get $i))
      (block $done4 (loop $loop4
        (br_if $done4 (i32.gt_u (i32.add (local.get $j) (i32.const 4)) (local.get $end)))
        (local.set $q (call $quant4 (v128.load (i32.add (local.get $x) (i32.shl (local.get $j) (i32.const 2))))
          (local.get $zo) (local.get $so) (local.get $lo) (local.get $hi) (local.get $zm)))
        (i32.store (i32.add (local.get $dst) (local.get $j)) (i32x4.extract_lane 0 (local.get $q)))
        (local.set $j (i32.add (local.get $j) (i32.const 4)))
        (br $loop4)))
      (block $done1 (loop $loop1
        (br_if $done1 (i32.ge_u (local.get $j) (local.get $end)))
        (local.set $q (call $quant4 (v128.load32_zero (i32.add (local.get $x) (i32.shl (local.get $j) (i32.const 2))))
          (local.get $zo) (local.get $so) (local.get $lo) (local.get $hi) (local.get $zm)))
        (i32.store8 (i32.add (local.get $dst) (local.get $j)) (i32x4.extract_lane 0 (local.get $q)))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br $loop1)))
      (local.set $i (local.get $end))
      (local.set $ch (i32.add (local.get $ch) (i32.const 1)))
      (if (i32.ge_u (local.get $ch) (local.get $channels)) (then (local.set $ch (i32.const 0))))
      (br $loop))))

  ;; quant4: four float32 values to four codes, packed in the low 4 bytes.
  (func $quant4 (param $v v128) (param $zo v128) (param $so v128) (param $lo v128) (param $hi v128)
        (param $zm v128) (result v128)
    (local $c v128)
    (local.set $v (v128.and (local.get $v) (f32x4.eq (local.get $v) (local.get $v)))) ;; NaN → +0
    (local.set $c (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23
      (i32x4.trunc_sat_f64x2_s_zero (call $quant2 (f64x2.promote_low_f32x4 (local.get $v))
        (local.get $zo) (local.get $so) (local.get $lo) (local.get $hi) (local.get $zm)))
      (i32x4.trunc_sat_f64x2_s_zero (call $quant2 (f64x2.promote_low_f32x4
        (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $v) (local.get $v)))
        (local.get $zo) (local.get $so) (local.get $lo) (local.get $hi) (local.get $zm)))))
    (local.set $c (i16x8.narrow_i32x4_s (local.get $c) (local.get $c)))
    (i8x16.narrow_i16x8_u (local.get $c) (local.get $c)))
)
