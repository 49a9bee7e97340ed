//go:build js && wasm && simd

package kernels

import (
	"runtime"
	"sync"
	"unsafe"
)

// The WebAssembly SIMD128 kernels of simd.wat, bound by the JavaScript host
// (www/fourbit-simd.js) when the module is instantiated. available reports whether the host
// could instantiate them (the engine has SIMD128); when it could not, the Go kernels run.

//go:wasmimport fourbit_simd available
func simdAvailable() int32

//go:wasmimport fourbit_simd gemm_i32
func simdGemmI32(c unsafe.Pointer, ldc int32, a unsafe.Pointer, b unsafe.Pointer, m, k, n int32)

//go:wasmimport fourbit_simd gemm_u4
func simdGemmU4(c unsafe.Pointer, ldc int32, a unsafe.Pointer, b unsafe.Pointer, m, k, n int32)

var simdOn = sync.OnceValue(func() bool { return simdAvailable() == 1 })

// SIMD reports whether the integer GEMMs run on the WebAssembly SIMD128 kernels.
func SIMD() bool { return simdOn() }

// small: shapes whose sizes would not fit the kernels' 32-bit arguments go to Go.
func small(v ...int) bool {
	for _, x := range v {
		if x <= 0 || x >= 1<<30 {
			return false
		}
	}
	return true
}

func gemmI32SIMD(c []int64, ldc int, a *PackedI32, bp []int16, n int) bool {
	m, k := a.M, a.K
	if !SIMD() || !small(m, k, n, ldc) || len(a.Data) < (m+mr-1)/mr*k*mr || len(bp) < PackedBLen(k, n) || len(c) < (m-1)*ldc+n {
		return false
	}
	simdGemmI32(unsafe.Pointer(&c[0]), int32(ldc), unsafe.Pointer(&a.Data[0]), unsafe.Pointer(&bp[0]), int32(m), int32(k), int32(n))
	runtime.KeepAlive(c)
	runtime.KeepAlive(a)
	runtime.KeepAlive(bp)
	return true
}

func gemmU4SIMD(c []int32, ldc int, a *PackedU4, bp []uint64, n int) bool {
	m, k := a.M, a.K
	if !SIMD() || !small(m, k, n, ldc) || len(a.Data) < (m+u4mr-1)/u4mr*k*2 || len(bp) < PackedU4BLen(k, n) || len(c) < (m-1)*ldc+n {
		return false
	}
	simdGemmU4(unsafe.Pointer(&c[0]), int32(ldc), unsafe.Pointer(&a.Data[0]), unsafe.Pointer(&bp[0]), int32(m), int32(k), int32(n))
	runtime.KeepAlive(c)
	runtime.KeepAlive(a)
	runtime.KeepAlive(bp)
	return true
}
