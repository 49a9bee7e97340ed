package tflite

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"fourbit/internal/testenv"
	"fourbit/nn"
)

// referee runs the model on Arm NN's TFLite parser (tools/tflite-check.py) on the inputs x
// (n images in fourbit's layout) and returns its outputs; it skips the test, saying why,
// where Debian's python3-pyarmnn is not installed (./build.sh test installs it).
func referee(t *testing.T, model []byte, x []float32, n int) []float32 {
	t.Helper()
	if err := exec.Command("/usr/bin/python3", "-c", "import pyarmnn, numpy").Run(); err != nil {
		t.Skip("Arm NN (Debian's python3-pyarmnn and python3-numpy) is not installed: ./build.sh test installs it")
	}
	dir := t.TempDir()
	mp, ip, op := filepath.Join(dir, "m.tflite"), filepath.Join(dir, "x.f32"), filepath.Join(dir, "y.f32")
	if err := os.WriteFile(mp, model, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(ip, f32bytes(x), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("/usr/bin/python3", filepath.Join(testenv.Root(), "tools", "tflite-check.py"), mp, ip, strconv.Itoa(n), op).CombinedOutput()
	if err != nil {
		t.Fatalf("Arm NN: %v\n%s", err, out)
	}
	b, err := os.ReadFile(op)
	if err != nil {
		t.Fatal(err)
	}
	y := make([]float32, len(b)/4)
	for i := range y {
		y[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return y
}

func f32bytes(x []float32) []byte {
	b := make([]byte, 0, 4*len(x))
	for _, v := range x {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
	}
	return b
}

// nhwc reorders n maps of a C×H×W shape to H×W×C, the referee's layout.
func nhwc(x []float32, n int, shape []int) []float32 {
	if len(shape) != 3 {
		return x
	}
	c, h, w := shape[0], shape[1], shape[2]
	out := make([]float32, len(x))
	for b := 0; b < n; b++ {
		for ch := 0; ch < c; ch++ {
			for i := 0; i < h*w; i++ {
				out[(b*h*w+i)*c+ch] = x[(b*c+ch)*h*w+i]
			}
		}
	}
	return out
}

// agree checks fourbit's outputs against the referee's to rel relative to the largest output.
func agree(t *testing.T, name string, got, want []float32, rel float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d outputs, the referee %d", name, len(got), len(want))
	}
	var top, diff float64
	for i := range got {
		top = math.Max(top, math.Abs(float64(want[i])))
		diff = math.Max(diff, math.Abs(float64(got[i]-want[i])))
	}
	t.Logf("%s: max |Δ| %.3g, max |output| %.3g", name, diff, top)
	if diff > rel*math.Max(top, 1e-6) {
		t.Errorf("%s: fourbit differs from Arm NN by %.3g (max output %.3g)", name, diff, top)
	}
}

// TestOperatorsMatchArmNN: test models with every operator the reader converts compute what
// Arm NN's TFLite parser computes, to 1e-4 relative.
func TestOperatorsMatchArmNN(t *testing.T) {
	for name, data := range map[string][]byte{"every operator": everyOperatorModel(), "mean, flatten": meanModel(false)} {
		t.Run(name, func(t *testing.T) {
			g, err := Read(data)
			if err != nil {
				t.Fatal(err)
			}
			const n = 6
			r := rand.New(rand.NewPCG(3, 4))
			x := make([]float32, n*nn.Size(g.Input().Shape))
			for i := range x {
				x[i] = float32(r.NormFloat64())
			}
			got, err := g.Forward(x, n, nil)
			if err != nil {
				t.Fatal(err)
			}
			agree(t, name, got, referee(t, data, x, n), 1e-4)
		})
	}
}

// TestFloat16Weights: float16 weights through DEQUANTIZE (which Arm NN does not fold) give
// exactly the model with the same values stored as float32.
func TestFloat16Weights(t *testing.T) {
	half, err := Read(meanModel(true))
	if err != nil {
		t.Fatal(err)
	}
	full, err := Read(meanModel(false))
	if err != nil {
		t.Fatal(err)
	}
	x := make([]float32, 2*nn.Size(half.Input().Shape))
	for i := range x {
		x[i] = float32(math.Sin(float64(i)))
	}
	a, _ := half.Forward(x, 2, nil)
	b, _ := full.Forward(x, 2, nil)
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("output %d: %v from float16 weights, %v from float32", i, a[i], b[i])
		}
	}
}

// TestRealModelsMatchArmNN: the real TFLite networks of the data set — MobileNet V1 0.25
// (ImageNet, depthwise) and MLPerf Tiny's ResNet-8 (CIFAR-10) — compute what Arm NN computes
// on random inputs. (The keyword-spotting DS-CNN stores int8 weights, which Arm NN's reference
// backend does not run with float inputs: TensorFlow's own TFLite runtime checks it, in
// test/browser/tflite-runtime.test.mjs.)
func TestRealModelsMatchArmNN(t *testing.T) {
	for _, f := range []string{"imagenet-mobilenet-v1/mobilenet_v1_0.25_224.tflite", "mlperf-tiny/resnet8_cifar10_float32.tflite"} {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(testenv.Data(t, f))
			if err != nil {
				t.Fatal(err)
			}
			g, err := Read(data)
			if err != nil {
				t.Fatal(err)
			}
			const n = 3
			r := rand.New(rand.NewPCG(5, 6))
			x := make([]float32, n*nn.Size(g.Input().Shape))
			for i := range x {
				x[i] = float32(r.Float64()*2 - 1)
			}
			got, err := g.Forward(x, n, nil)
			if err != nil {
				t.Fatal(err)
			}
			agree(t, f, got, referee(t, data, x, n), 1e-4)
		})
	}
}
