package f16

import (
	"math"
	"testing"
)

func TestToFloat32(t *testing.T) {
	for _, tc := range []struct {
		h    uint16
		want float32
	}{{0x3c00, 1}, {0xc000, -2}, {0x7bff, 65504}, {0x0001, 5.9604645e-08}, {0x8000, 0}, {0x3555, 0.33325195}, {0x8001, -5.9604645e-08}} {
		if got := ToFloat32(tc.h); got != tc.want {
			t.Errorf("ToFloat32(%#04x) = %v, want %v", tc.h, got, tc.want)
		}
	}
	if !math.IsInf(float64(ToFloat32(0x7c00)), 1) || !math.IsNaN(float64(ToFloat32(0x7e00))) {
		t.Error("half Inf/NaN")
	}
}
