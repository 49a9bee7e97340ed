;; simd.wat — fourbit's WebAssembly SIMD128 kernels for the integer engine in the browser.
;;
;; Go's wasm compiler emits no SIMD instructions, so the two hot integer GEMMs of the engine
;; are written here by hand, in the browser's own assembly language, the way gonum writes its
;; hot loops in assembly. The module imports the Go module's linear memory and works on the
;; buffers the Go engine already owns, in the same packed layouts as the Go kernels
;; (kernels/gemm.go, kernels/swar.go): no copies. Go calls the exports through //go:wasmimport
;; (kernels/simd_js.go) and a JavaScript trampoline (www/fourbit-simd.js); the Go kernels stay
;; the portable reference, and the results are the same integers, bit for bit.
;;
;;   gemm_i32 (c ldc a b m k n): C (int64, row-major, leading dimension ldc) = A·B for int32
;;     weights A packed in panels of 2 rows, k-major (PackI32), and int16 values B packed in
;;     panels of 4 columns, k-major (PackBI16 / Im2colI16). Per k: the 4 values are widened
;;     to i32x4, each row's weight is splatted, and i64x2.extmul_{low,high}_i32x4_s give the
;;     exact 64-bit products (the engine's per-channel path, weights folded to 31 bits).
;;   gemm_u4 (c ldc a b m k n): the raw code sums C (int32) = A·B of 4-bit codes: A packed by
;;     PackU4 (panels of 4 rows; per k two bytes, rows 0/1 and 2/3 in the low/high nibbles),
;;     B by PackBU4 / Im2colU4 (panels of 8 columns; per k eight 16-bit lanes). Eight k-steps
;;     of A are loaded at once, their nibbles split with a mask and a shift, and each row's
;;     code is broadcast to the 16-bit lanes with a shuffle; i16x8.mul/add accumulate in
;;     16-bit lanes (15·15·256 < 2^16), emptied into 32-bit sums every 256 steps.
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

  (func (export "gemm_u4") (param $c i32) (param $ldc i32) (param $a i32) (param $b i32)
        (param $m i32) (param $k i32) (param $n i32)
    (local $ip i32) (local $jp i32) (local $mp i32) (local $np i32)
    (local $ap i32) (local $bp i32) (local $kk i32) (local $k0 i32) (local $kend i32) (local $h i32) (local $wd i32)
    (local $x v128) (local $lo v128) (local $hi v128) (local $zero v128) (local $w i32)
    (local $s0 v128) (local $s1 v128) (local $s2 v128) (local $s3 v128)
    (local $t0l v128) (local $t0h v128) (local $t1l v128) (local $t1h v128)
    (local $t2l v128) (local $t2h v128) (local $t3l v128) (local $t3h v128)
    (local $dst i32) (local $r i32)
    (local.set $zero (v128.const i32x4 0 0 0 0))
    (local.set $mp (i32.div_u (i32.add (local.get $m) (i32.const 3)) (i32.const 4)))
    (local.set $np (i32.div_u (i32.add (local.get $n) (i32.const 7)) (i32.const 8)))
    (local.set $ip (i32.const 0))
    (block $done_i (loop $loop_i
      (br_if $done_i (i32.ge_u (local.get $ip) (local.get $mp)))
      ;; panel of 4 rows: k·2 bytes
      (local.set $ap (i32.add (local.get $a) (i32.mul (local.get $ip) (i32.shl (local.get $k) (i32.const 1)))))
      (local.set $h (i32.sub (local.get $m) (i32.shl (local.get $ip) (i32.const 2))))
      (local.set $jp (i32.const 0))
      (block $done_j (loop $loop_j
        (br_if $done_j (i32.ge_u (local.get $jp) (local.get $np)))
        ;; panel of 8 columns: k·16 bytes
        (local.set $bp (i32.add (local.get $b) (i32.mul (local.get $jp) (i32.shl (local.get $k) (i32.const 4)))))
        (local.set $t0l (local.get $zero)) (local.set $t0h (local.get $zero))
        (local.set $t1l (local.get $zero)) (local.set $t1h (local.get $zero))
        (local.set $t2l (local.get $zero)) (local.set $t2h (local.get $zero))
        (local.set $t3l (local.get $zero)) (local.set $t3h (local.get $zero))
        (local.set $k0 (i32.const 0))
        (block $done_f (loop $loop_f
          (br_if $done_f (i32.ge_u (local.get $k0) (local.get $k)))
          ;; 16-bit lanes for up to 256 steps of k
          (local.set $kend (select (i32.add (local.get $k0) (i32.const 256)) (local.get $k)
            (i32.lt_u (i32.add (local.get $k0) (i32.const 256)) (local.get $k))))
          (local.set $s0 (local.get $zero)) (local.set $s1 (local.get $zero))
          (local.set $s2 (local.get $zero)) (local.set $s3 (local.get $zero))
          (local.set $kk (local.get $k0))
          ;; eight steps at a time: 16 bytes of A, nibbles split by mask and shift
          (block $done_8 (loop $loop_8
            (br_if $done_8 (i32.gt_u (i32.add (local.get $kk) (i32.const 8)) (local.get $kend)))
            (local.set $x (v128.load (i32.add (local.get $ap) (i32.shl (local.get $kk) (i32.const 1)))))
            (local.set $lo (v128.and (local.get $x) (v128.const i8x16 15 15 15 15 15 15 15 15 15 15 15 15 15 15 15 15)))
            (local.set $hi (i8x16.shr_u (local.get $x) (i32.const 4)))
            (local.set $x (v128.load offset=0 (i32.add (local.get $bp) (i32.shl (local.get $kk) (i32.const 4)))))
            (local.set $s0 (i16x8.add (local.get $s0) (i16x8.mul (local.get $x) (i8x16.shuffle 0 16 0 16 0 16 0 16 0 16 0 16 0 16 0 16 (local.get $lo) (local.get $zero)))))
            (local.set $s1 (i16x8.add (local.get $s1) (i16x8.mul (local.get $x) (i8x16.shuffle 0 16 0 16 0 16 0 16 0 16 0 16 0 16 0 16 (local.get $hi) (local.get $zero)))))
            (local.set $s2 (i16x8.add (local.get $s2) (i16x8.mul (local.get $x) (i8x16.shuffle 1 16 1 16 1 16 1 16 1 16 1 16 1 16 1 16 (local.get $lo) (local.get $zero)))))
            (local.set $s3 (i16x8.add (local.get $s3) (i16x8.mul (local.get $x) (i8x16.shuffle 1 16 1 16 1 16 1 16 1 16 1 16 1 16 1 16 (local.get $hi) (local.get $zero)))))
            (local.set $x (v128.load offset=16 (i32.add (local.get $bp) (i32.shl (local.get $kk) (i32.const 4)))))
            (local.set $s0 (i16x8.add (local.get $s0) (i16x8.mul (local.get $x) (i8x16.shuffle 2 16 2 16 2 16 2 16 2 16 2 16 2 16 2 16 (local.get $lo) (local.get $zero)))))
            (local.set $s1 (i16x8.add (local.get $s1) (i16x8.mul (local.get $x) (i8x16.shuffle 2 16 2 16 2 16 2 16 2 16 2 16 2 16 2 16 (local.get $hi) (local.get $zero)))))
            (local.set $s2 (i16x8.add (local.get $s2) (i16x8.mul (local.get $x) (i8x16.shuffle 3 16 3 16 3 16 3 16 3 16 3 16 3 16 3 16 (local.get $lo) (local.get $zero)))))
            (local.set $s3 (i16x8.add (local.get $s3) (i16x8.mul (local.get $x) (i8x16.shuffle 3 16 3 16 3 16 3 16 3 16 3 16 3 16 3 16 (local.get $hi) (local.get $zero)))))
            (local.set $x (v128.load offset=32 (i32.add (local.get $bp) (i32.shl (local.get $kk) (i32.const 4)))))
            (local.set $s0 (i16x8.add (local.get $s0) (i16x8.mul (local.get $x) (i8x16.shuffle 4 16 4 16 4 16 4 16 4 16 4 16 4 16 4 16 (local.get $lo) (local.get $zero)))))
            (local.set $s1 (i16x8.add (local.get $s1) (i16x8.mul (local.get $x) (i8x16.shuffle 4 16 4 16 4 16 4 16 4 16 4 16 4 16 4 16 (local.get $hi) (local.get $zero)))))
            (local.set $s2 (i16x8.add (local.get $s2) (i16x8.mul (local.get $x) (i8x16.shuffle 5 16 5 16 5 16 5 16 5 16 5 16 5 16 5 16 (local.get $lo) (local.get $zero)))))
            (local.set $s3 (i16x8.add (local.get $s3) (i16x8.mul (local.get $x) (i8x16.shuffle 5 16 5 16 5 16 5 16 5 16 5 16 5 16 5 16 (local.get $hi) (local.get $zero)))))
            (local.set $x (v128.load offset=48 (i32.add (local.get $bp) (i32.shl (local.get $kk) (i32.const 4)))))
            (local.set $s0 (i16x8.add (local.get $s0) (i16x8.mul (local.get $x) (i8x16.shuffle 6 16 6 16 6 16 6 16 6 16 6 16 6 16 6 16 (local.get $lo) (local.get $zero)))))
            (local.set $s1 (i16x8.add (local.get $s1) (i16x8.mul (local.get $x) (i8x16.shuffle 6 16 6 16 6 16 6 16 6 16 6 16 6 16 6 16 (local.get $hi) (local.get $zero)))))
            (local.set $s2 (i16x8.add (local.get $s2) (i16x8.mul (local.get $x) (i8x16.shuffle 7 16 7 16 7 16 7 16 7 16 7 16 7 16 7 16 (local.get $lo) (local.get $zero)))))
            (local.set $s3 (i16x8.add (local.get $s3) (i16x8.mul (local.get $x) (i8x16.shuffle 7 16 7 16 7 16 7 16 7 16 7 16 7 16 7 16 (local.get $hi) (local.get $zero)))))
            (local.set $x (v128.load offset=64 (i32.add (local.get $bp) (i32.shl (local.get $kk) (i32.const 4)))))
            (local.set $s0 (i16x8.add (local.get $s0) (i16x8.mul (local.get $x) (i8x16.shuffle 8 16 8 16 8 16 8 16 8 16 8 16 8 16 8 16 (local.get $lo) (local.get $zero)))))
            (local.set $s1 (i16x8.add (local.get $s1) (i16x8.mul (local.get $x) (i8x16.shuffle 8 16 8 16 8 16 8 16 8 16 8 16 8 16 8 16 (local.get $hi) (local.get $zero)))))
            (local.set $s2 (i16x8.add (local.get $s2) (i16x8.mul (local.get $x) (i8x16.shuffle 9 16 9 16 9 16 9 16 9 16 9 16 9 16 9 16 (local.get $lo) (local.get $zero)))))
            (local.set $s3 (i16x8.add (local.get $s3) (i16x8.mul (local.get $x) (i8x16.shuffle 9 16 9 16 9 16 9 16 9 16 9 16 9 16 9 16 (local.get $hi) (local.get $zero)))))
            (local.set $x (v128.load offset=80 (i32.add (local.get $bp) (i32.shl (local.get $kk) (i32.const 4)))))
            (local.set $s0 (i16x8.add (local.get $s0) (i16x8.mul (local.get $x) (i8x16.shuffle 10 16 10 16 10 16 10 16 10 16 10 16 10 16 10 16 (local.get $lo) (local.get $zero)))))
            (local.set $s1 (i16x8.add (local.get $s1) (i16x8.mul (local.get $x) (i8x16.shuffle 10 16 10 16 10 16 10 16 10 16 10 16 10 16 10 16 (local.get $hi) (local.get $zero)))))
            (local.set $s2 (i16x8.add (local.get $s2) (i16x8.mul (local.get $x) (i8x16.shuffle 11 16 11 16 11 16 11 16 11 16 11 16 11 16 11 16 (local.get $lo) (local.get $zero)))))
            (local.set $s3 (i16x8.add (local.get $s3) (i16x8.mul (local.get $x) (i8x16.shuffle 11 16 11 16 11 16 11 16 11 16 11 16 11 16 11 16 (local.get $hi) (local.get $zero)))))
            (local.set $x (v128.load offset=96 (i32.add (local.get $bp) (i32.shl (local.get $kk) (i32.const 4)))))
            (local.set $s0 (i16x8.add (local.get $s0) (i16x8.mul (local.get $x) (i8x16.shuffle 12 16 12 16 12 16 12 16 12 16 12 16 12 16 12 16 (local.get $lo) (local.get $zero)))))
            (local.set $s1 (i16x8.add (local.get $s1) (i16x8.mul (local.get $x) (i8x16.shuffle 12 16 12 16 12 16 12 16 12 16 12 16 12 16 12 16 (local.get $hi) (local.get $zero)))))
            (local.set $s2 (i16x8.add (local.get $s2) (i16x8.mul (local.get $x) (i8x16.shuffle 13 16 13 16 13 16 13 16 13 16 13 16 13 16 13 16 (local.get $lo) (local.get $zero)))))
            (local.set $s3 (i16x8.add (local.get $s3) (i16x8.mul (local.get $x) (i8x16.shuffle 13 16 13 16 13 16 13 16 13 16 13 16 13 16 13 16 (local.get $hi) (local.get $zero)))))
            (local.set $x (v128.load offset=112 (i32.add (local.get $bp) (i32.shl (local.get $kk) (i32.const 4)))))
            (local.set $s0 (i16x8.add (local.get $s0) (i16x8.mul (local.get $x) (i8x16.shuffle 14 16 14 16 14 16 14 16 14 16 14 16 14 16 14 16 (local.get $lo) (local.get $zero)))))
            (local.set $s1 (i16x8.add (local.get $s1) (i16x8.mul (local.get $x) (i8x16.shuffle 14 16 14 16 14 16 14 16 14 16 14 16 14 16 14 16 (local.get $hi) (local.get $zero)))))
            (local.set $s2 (i16x8.add (local.get $s2) (i16x8.mul (local.get $x) (i8x16.shuffle 15 16 15 16 15 16 15 16 15 16 15 16 15 16 15 16 (local.get $lo) (local.get $zero)))))
            (local.set $s3 (i16x8.add (local.get $s3) (i16x8.mul (local.get $x) (i8x16.shuffle 15 16 15 16 15 16 15 16 15 16 15 16 15 16 15 16 (local.get $hi) (local.get $zero)))))
            (local.set $kk (i32.add (local.get $kk) (i32.const 8)))
            (br $loop_8)))
          ;; the remaining steps one at a time
          (block $done_1 (loop $loop_1
            (br_if $done_1 (i32.ge_u (local.get $kk) (local.get $kend)))
            (local.set $x (v128.load (i32.add (local.get $bp) (i32.shl (local.get $kk) (i32.const 4)))))
            (local.set $w (i32.load16_u (i32.add (local.get $ap) (i32.shl (local.get $kk) (i32.const 1)))))
            (local.set $s0 (i16x8.add (local.get $s0) (i16x8.mul (local.get $x) (i16x8.splat (i32.and (i32.shr_u (local.get $w) (i32.const 0)) (i32.const 15))))))
            (local.set $s1 (i16x8.add (local.get $s1) (i16x8.mul (local.get $x) (i16x8.splat (i32.and (i32.shr_u (local.get $w) (i32.const 4)) (i32.const 15))))))
            (local.set $s2 (i16x8.add (local.get $s2) (i16x8.mul (local.get $x) (i16x8.splat (i32.and (i32.shr_u (local.get $w) (i32.const 8)) (i32.const 15))))))
            (local.set $s3 (i16x8.add (local.get $s3) (i16x8.mul (local.get $x) (i16x8.splat (i32.and (i32.shr_u (local.get $w) (i32.const 12)) (i32.const 15))))))
            (local.set $kk (i32.add (local.get $kk) (i32.const 1)))
            (br $loop_1)))
          ;; empty the 16-bit lanes (unsigned) into the 32-bit sums
          (local.set $t0l (i32x4.add (local.get $t0l) (i32x4.extend_low_i16x8_u (local.get $s0))))
          (local.set $t0h (i32x4.add (local.get $t0h) (i32x4.extend_high_i16x8_u (local.get $s0))))
          (local.set $t1l (i32x4.add (local.get $t1l) (i32x4.extend_low_i16x8_u (local.get $s1))))
          (local.set $t1h (i32x4.add (local.get $t1h) (i32x4.extend_high_i16x8_u (local.get $s1))))
          (local.set $t2l (i32x4.add (local.get $t2l) (i32x4.extend_low_i16x8_u (local.get $s2))))
          (local.set $t2h (i32x4.add (local.get $t2h) (i32x4.extend_high_i16x8_u (local.get $s2))))
          (local.set $t3l (i32x4.add (local.get $t3l) (i32x4.extend_low_i16x8_u (local.get $s3))))
          (local.set $t3h (i32x4.add (local.get $t3h) (i32x4.extend_high_i16x8_u (local.get $s3))))
          (local.set $k0 (local.get $kend))
          (br $loop_f)))
        (local.set $wd (i32.sub (local.get $n) (i32.shl (local.get $jp) (i32.const 3))))
        ;; dst = &C[4·ip][8·jp]
        (local.set $dst (i32.add (local.get $c) (i32.shl
          (i32.add (i32.mul (i32.shl (local.get $ip) (i32.const 2)) (local.get $ldc)) (i32.shl (local.get $jp) (i32.const 3)))
          (i32.const 2))))
        (if (i32.gt_s (local.get $h) (i32.const 0)) (then
          (if (i32.ge_s (local.get $wd) (i32.const 8))
            (then (v128.store (local.get $dst) (local.get $t0l)) (v128.store offset=16 (local.get $dst) (local.get $t0h)))
            (else (call $store_i32 (local.get $dst) (local.get $t0l) (local.get $t0h) (local.get $wd))))))
        (local.set $dst (i32.add (local.get $dst) (i32.shl (local.get $ldc) (i32.const 2))))
        (if (i32.gt_s (local.get $h) (i32.const 1)) (then
          (if (i32.ge_s (local.get $wd) (i32.const 8))
            (then (v128.store (local.get $dst) (local.get $t1l)) (v128.store offset=16 (local.get $dst) (local.get $t1h)))
            (else (call $store_i32 (local.get $dst) (local.get $t1l) (local.get $t1h) (local.get $wd))))))
        (local.set $dst (i32.add (local.get $dst) (i32.shl (local.get $ldc) (i32.const 2))))
        (if (i32.gt_s (local.get $h) (i32.const 2)) (then
          (if (i32.ge_s (local.get $wd) (i32.const 8))
            (then (v128.store (local.get $dst) (local.get $t2l)) (v128.store offset=16 (local.get $dst) (local.get $t2h)))
            (else (call $store_i32 (local.get $dst) (local.get $t2l) (local.get $t2h) (local.get $wd))))))
        (local.set $dst (i32.add (local.get $dst) (i32.shl (local.get $ldc) (i32.const 2))))
        (if (i32.gt_s (local.get $h) (i32.const 3)) (then
          (if (i32.ge_s (local.get $wd) (i32.const 8))
            (then (v128.store (local.get $dst) (local.get $t3l)) (v128.store offset=16 (local.get $dst) (local.get $t3h)))
            (else (call $store_i32 (local.get $dst) (local.get $t3l) (local.get $t3h) (local.get $wd))))))
        (local.set $dst (i32.add (local.get $dst) (i32.shl (local.get $ldc) (i32.const 2))))
        (local.set $jp (i32.add (local.get $jp) (i32.const 1)))
        (br $loop_j)))
      (local.set $ip (i32.add (local.get $ip) (i32.const 1)))
      (br $loop_i))))

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
)
