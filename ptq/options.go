package ptq

import (
	"fmt"
	"strconv"
	"strings"

	"fourbit/quant"
)

// Options is fourbit's one set of quantization options, shared by the CLI's flags, JSON and
// the JavaScript API. Start from DefaultOptions: the zero value is not the paper's protocol.
type Options struct {
	// WeightBits and ActBits are the bit widths (1..8) of weights and activations; with PCBA
	// they are the mean width per channel.
	WeightBits int `json:"wbits"`
	ActBits    int `json:"abits"`
	// WeightPerChannel and ActPerChannel choose per-channel (true) or per-tensor ranges.
	WeightPerChannel bool `json:"w_per_channel"`
	ActPerChannel    bool `json:"a_per_channel"`
	// Clip is the clipping method of activations, WeightClip that of weights (see
	// quant.ParseClipper; "none" is min-max).
	Clip       string `json:"clip"`
	WeightClip string `json:"wclip"`
	// PCBAWeights and PCBAActs turn on per-channel bit allocation (paper §4.2).
	PCBAWeights bool `json:"pcba_w"`
	PCBAActs    bool `json:"pcba_a"`
	// PCBAPrior is the per-channel scale PCBA allocates by: "sigma" (the reference code's
	// default) or "b" (Laplace mean absolute deviation).
	PCBAPrior string `json:"pcba_prior"`
	// BiasCorrect is off, mean or mean+norm (paper §4.3).
	BiasCorrect string `json:"bias_correct"`
	// HalfRange quantizes the output of a ReLU over [0, α] with unsigned codes (one-sided).
	HalfRange bool `json:"half_range"`
	// Keep8Bit keeps the first layer's weights and the classifier's output at 8 bits, the
	// paper's protocol.
	Keep8Bit bool `json:"keep_8bit"`
	// CarryBits, when not 0, also quantizes — at this width, over their calibration range
	// (min-max), per channel or per tensor as ActPerChannel says — every tensor the paper
	// leaves in float and an integer engine must carry as codes (CarriedPoints: residual Add
	// outputs, other ops' outputs, the input when more than a conv reads it). The plan then
	// covers every tensor of the network, and the integer engine (package engine) runs
	// exactly the network the simulation computes. 0 leaves them in float: the paper's
	// protocol, which the simulation runs and the integer engine cannot.
	CarryBits int `json:"carry_bits,omitempty"`
	// CalibImages is how many calibration images to use.
	CalibImages int `json:"calib_images"`
	// Rounding is how weights are rounded to their codes: "nearest" (the paper; "" too) or
	// "learned" (AdaRound: each layer's rounding fitted to reconstruct its float output on the
	// calibration images, fed by the already-quantized network; see learnRounding).
	Rounding string `json:"rounding,omitempty"`
	// RoundingImages (default 256) and RoundingIters (default 500 Adam steps) bound learned
	// rounding's work; Seed makes it reproducible (same seed, same codes).
	RoundingImages int    `json:"rounding_images,omitempty"`
	RoundingIters  int    `json:"rounding_iters,omitempty"`
	Seed           uint64 `json:"seed,omitempty"`
	// EmpiricalBias corrects each layer's bias from the calibration images (AIMET's empirical
	// bias correction: the mean output shift of the quantized layer, fed by the quantized
	// network, against the float layer), after BiasCorrect and learned rounding.
	EmpiricalBias bool `json:"empirical_bias,omitempty"`
	// Protocol chooses which layers stay at 8 bits: "paper" ("" too; Keep8Bit: the first
	// layer's weights and the classifier's output, as the paper writes) or "authors" (as the
	// authors' code runs its experiments: the first layer's weights at the target width but its
	// output activation at 8 bits, and the classifier's weights at 8 bits). Keep entries the
	// caller sets win over the preset.
	Protocol string `json:"protocol,omitempty"`
	// Keep overrides named layers (conv/linear node names, as `fourbit info` prints them):
	// other bit widths for their weights and output activations, or float.
	Keep map[string]Keep `json:"keep,omitempty"`
}

// Keep is a per-layer override: WeightBits and ActBits (0 = the global width), or Float to
// leave the layer's weights and its output unquantized.
type Keep struct {
	WeightBits int  `json:"wbits,omitempty"`
	ActBits    int  `json:"abits,omitempty"`
	Float      bool `json:"float,omitempty"`
}

// DefaultOptions is the paper's W4A4 protocol with all three methods: per-channel weights and
// activations, ACIQ-Laplace clipping of activations, PCBA for weights and activations, mean
// bias correction, half range after ReLU, first layer and classifier output at 8 bits, 256
// calibration images.
func DefaultOptions() Options {
	return Options{
		WeightBits: 4, ActBits: 4, WeightPerChannel: true, ActPerChannel: true,
		Clip: "aciq-laplace", WeightClip: "none", PCBAWeights: true, PCBAActs: true, PCBAPrior: "sigma",
		BiasCorrect: "mean", HalfRange: true, Keep8Bit: true, CalibImages: 256,
	}
}

// Naive returns o with every method off: min-max ranges, uniform bits, no bias correction.
func (o Options) Naive() Options {
	o.Clip, o.WeightClip, o.PCBAWeights, o.PCBAActs, o.BiasCorrect = "none", "none", false, false, "off"
	return o
}

// resolved is Options checked and parsed.
type resolved struct {
	Options
	clip, wclip quant.Clipper
	bias        quant.BiasMode
}

// Validate checks the options and returns a clear error for the first bad field.
func (o Options) Validate() error {
	_, err := o.resolve()
	return err
}

func (o Options) resolve() (resolved, error) {
	r := resolved{Options: o}
	if o.WeightBits < 1 || o.WeightBits > quant.MaxBits {
		return r, fmt.Errorf("weight bits %d outside 1..%d", o.WeightBits, quant.MaxBits)
	}
	if o.ActBits < 1 || o.ActBits > quant.MaxBits {
		return r, fmt.Errorf("activation bits %d outside 1..%d", o.ActBits, quant.MaxBits)
	}
	var err error
	if r.clip, err = quant.ParseClipper(o.Clip); err != nil {
		return r, err
	}
	wc := o.WeightClip
	if wc == "" {
		wc = "none"
	}
	if r.wclip, err = quant.ParseClipper(wc); err != nil {
		return r, fmt.Errorf("weight clipping: %w", err)
	}
	if r.bias, err = quant.ParseBiasMode(o.BiasCorrect); err != nil {
		return r, err
	}
	if o.PCBAWeights && !o.WeightPerChannel {
		return r, fmt.Errorf("PCBA of weights needs per-channel weights")
	}
	if o.PCBAActs && !o.ActPerChannel {
		return r, fmt.Errorf("PCBA of activations needs per-channel activations")
	}
	switch o.PCBAPrior {
	case "", "sigma", "b":
	default:
		return r, fmt.Errorf("PCBA prior %q (want sigma or b)", o.PCBAPrior)
	}
	for name, k := range o.Keep {
		if k.WeightBits < 0 || k.WeightBits > quant.MaxBits || k.ActBits < 0 || k.ActBits > quant.MaxBits {
			return r, fmt.Errorf("keep %s: bits must be 1..%d", name, quant.MaxBits)
		}
	}
	switch o.Protocol {
	case "", "paper", "authors":
	default:
		return r, fmt.Errorf("protocol %q (want paper or authors)", o.Protocol)
	}
	switch o.Rounding {
	case "", "nearest", "learned":
	default:
		return r, fmt.Errorf("rounding %q (want nearest or learned)", o.Rounding)
	}
	if o.RoundingImages < 0 || o.RoundingIters < 0 || o.RoundingIters > 1<<20 {
		return r, fmt.Errorf("learned rounding: images %d, iterations %d out of range", o.RoundingImages, o.RoundingIters)
	}
	if o.CarryBits < 0 || o.CarryBits > quant.MaxBits {
		return r, fmt.Errorf("carry bits %d outside 0..%d", o.CarryBits, quant.MaxBits)
	}
	if o.CalibImages < 1 || o.CalibImages > 1<<20 {
		return r, fmt.Errorf("calibration images %d outside 1..%d", o.CalibImages, 1<<20)
	}
	return r, nil
}

// ParseBits reads a bit-width setting such as "W4A4" into weight and activation bits.
func ParseBits(s string) (w, a int, err error) {
	u := strings.ToUpper(strings.TrimSpace(s))
	ws, as, ok := strings.Cut(strings.TrimPrefix(u, "W"), "A")
	if !strings.HasPrefix(u, "W") || !ok {
		return 0, 0, fmt.Errorf("bit setting %q: want WnAm, e.g. W4A4", s)
	}
	if w, err = strconv.Atoi(ws); err != nil || w < 1 || w > quant.MaxBits {
		return 0, 0, fmt.Errorf("bit setting %q: weight bits must be 1..8", s)
	}
	if a, err = strconv.Atoi(as); err != nil || a < 1 || a > quant.MaxBits {
		return 0, 0, fmt.Errorf("bit setting %q: activation bits must be 1..8", s)
	}
	return w, a, nil
}
