package quant

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestAffineZeroIsExact(t *testing.T) {
	for _, tc := range []struct {
		lo, hi float64
		bits   int
	}{
		{-1, 1, 4}, {-0.3, 2.7, 4}, {0.5, 3, 8}, {-5, -1, 2}, {-1e-3, 7, 1}, {-2.5, 0.1, 3},
	} {
		q, err := NewAffine(tc.lo, tc.hi, Levels(tc.bits))
		if err != nil {
			t.Fatalf("%+v: %v", tc, err)
		}
		if got := q.FakeQuant(0); got != 0 {
			t.Errorf("%+v: 0 quantizes to %v", tc, got)
		}
		if q.Zero != math.Round(q.Zero) || q.QMin != 0 || q.QMax != int32(Levels(tc.bits))-1 {
			t.Errorf("%+v: zero point %v, codes %d..%d", tc, q.Zero, q.QMin, q.QMax)
		}
		// The range, widened to hold 0, is covered to within half a step.
		lo, hi := q.Range()
		if lo > math.Min(tc.lo, 0)+q.Scale/2+1e-12 || hi < math.Max(tc.hi, 0)-q.Scale/2-1e-12 {
			t.Errorf("%+v: range [%v, %v] step %v", tc, lo, hi, q.Scale)
		}
	}
}

func TestQuantizeRoundTripAndError(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for bits := 1; bits <= 8; bits++ {
		q, err := NewAffine(-1.3, 2.1, Levels(bits))
		if err != nil {
			t.Fatal(err)
		}
		for c := q.QMin; c <= q.QMax; c++ {
			if got := q.Quantize(q.Dequantize(c)); got != c {
				t.Fatalf("bits %d: code %d round-trips to %d", bits, c, got)
			}
		}
		for i := 0; i < 1000; i++ {
			x := float32(r.Float64()*3.4 - 1.3)
			if d := math.Abs(float64(x - q.FakeQuant(x))); d > q.Scale/2+1e-6 {
				t.Fatalf("bits %d: |x − Q(x)| = %v > step/2 = %v", bits, d, q.Scale/2)
			}
		}
	}
}

func TestUnsigned(t *testing.T) {
	u, err := NewUnsigned(3, 16)
	if err != nil {
		t.Fatal(err)
	}
	if u.Quantize(-1) != 0 || u.Quantize(3) != 15 || u.Zero != 0 {
		t.Errorf("unsigned 4-bit: %+v", u)
	}
}

func TestFractionalLevels(t *testing.T) {
	q, err := NewAffine(0, 1, 5.5)
	if err != nil {
		t.Fatal(err)
	}
	if q.QMax != 5 || math.Abs(q.Scale-1/4.5) > 1e-12 {
		t.Errorf("5.5 levels on [0,1]: %+v", q)
	}
}

func TestQuantizerBadInput(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	for _, tc := range []struct {
		name           string
		lo, hi, levels float64
	}{
		{"bits 0 (levels < 1)", -1, 1, 0.5},
		{"bits 9", -1, 1, 512},
		{"NaN levels", -1, 1, nan},
		{"NaN bound", nan, 1, 16},
		{"Inf bound", -1, inf, 16},
		{"reversed", 1, -1, 16},
	} {
		if _, err := NewAffine(tc.lo, tc.hi, tc.levels); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
	// Zero range and a single level are well defined: everything is 0.
	for _, levels := range []float64{1, 16} {
		q, err := NewAffine(0, 0, levels)
		if err != nil {
			t.Fatal(err)
		}
		if q.FakeQuant(5) != 0 || q.Bits() != 0 {
			t.Errorf("levels %v zero range: %+v", levels, q)
		}
	}
	// Non-finite inputs never give NaN codes or values.
	q, _ := NewAffine(-1, 1, 16)
	for _, x := range []float32{float32(nan), float32(inf), float32(-inf)} {
		if v := q.FakeQuant(x); math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			t.Errorf("FakeQuant(%v) = %v", x, v)
		}
	}
	if q.FakeQuant(float32(nan)) != 0 || q.Quantize(float32(inf)) != q.QMax || q.Quantize(float32(-inf)) != q.QMin {
		t.Errorf("non-finite codes: NaN→%d +Inf→%d −Inf→%d", q.Quantize(float32(nan)), q.Quantize(float32(inf)), q.Quantize(float32(-inf)))
	}
}

func TestFakeQuantChannels(t *testing.T) {
	data := []float32{0.1, 0.9, 5, 7, 0.2, 0.8, 6, 8} // N=2, C=2, HW=2
	l := Layout{Outer: 2, Channels: 2, Inner: 2}
	q0, _ := NewAffine(0, 1, 2)
	q1, _ := NewAffine(0, 8, 3)
	if err := FakeQuantChannels(data, l, []Quantizer{q0, q1}); err != nil {
		t.Fatal(err)
	}
	want := []float32{0, 1, 4, 8, 0, 1, 8, 8}
	for i := range want {
		if data[i] != want[i] {
			t.Fatalf("got %v, want %v", data, want)
		}
	}
	if err := FakeQuantChannels(data, Layout{3, 1, 3}, []Quantizer{q0}); err == nil {
		t.Error("wrong layout accepted")
	}
}

func TestFinite(t *testing.T) {
	for _, c := range []struct {
		x    float64
		want bool
	}{
		{0, true}, {math.Copysign(0, -1), true}, {1, true}, {-3.5, true}, {math.MaxFloat64, true},
		{-math.MaxFloat64, true}, {math.SmallestNonzeroFloat64, true},
		{math.NaN(), false}, {math.Inf(1), false}, {math.Inf(-1), false},
	} {
		if got := finite(c.x); got != c.want {
			t.Errorf("finite(%v) = %v, want %v", c.x, got, c.want)
		}
	}
}
