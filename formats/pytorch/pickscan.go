package pytorch

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// scanPickle walks the opcodes of the pickle starting at data[start] up to its STOP and
// returns the offset after it. It checks that the stream is made of known opcodes and that
// every length field fits in the bytes that remain. gopickle allocates each length it reads
// before reading the bytes, so this check is what keeps a hostile file from claiming
// gigabytes; it interprets nothing.
func scanPickle(data []byte, start int) (int, error) {
	i := start
	need := func(n uint64) error {
		if n > uint64(len(data)-i) {
			return fmt.Errorf("%w: pickle field of %d bytes at offset %d runs past the end (%d bytes)", ErrFormat, n, i, len(data))
		}
		return nil
	}
	skip := func(n uint64) error {
		if err := need(n); err != nil {
			return err
		}
		i += int(n)
		return nil
	}
	lenPrefixed := func(width int) error {
		if err := need(uint64(width)); err != nil {
			return err
		}
		var n uint64
		switch width {
		case 1:
			n = uint64(data[i])
		case 4:
			n = uint64(binary.LittleEndian.Uint32(data[i:]))
		case 8:
			n = binary.LittleEndian.Uint64(data[i:])
		}
		i += width
		return skip(n)
	}
	line := func() error {
		j := bytes.IndexByte(data[i:], '\n')
		if j < 0 {
			return fmt.Errorf("%w: unterminated pickle line at offset %d", ErrFormat, i)
		}
		i += j + 1
		return nil
	}
	for i < len(data) {
		op := data[i]
		i++
		var err error
		switch op {
		case '.': // STOP
			return i, nil
		case '(', '0', '1', '2', 'N', 'R', 'a', 'b', 'd', '}', 'e', 'l', ']', 'o', 's', 't', ')', 'u', 'Q',
			0x81, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8f, 0x90, 0x91, 0x92, 0x93, 0x94, 0x97, 0x98:
		case 'K', 'h', 'q', 0x82, 0x80:
			err = skip(1)
		case 'M', 0x83:
			err = skip(2)
		case 'J', 'j', 'r', 0x84:
			err = skip(4)
		case 'G':
			err = skip(8)
		case 0x95: // FRAME: an 8-byte length, then the framed opcodes, scanned in line
			if err = need(8); err == nil {
				n := binary.LittleEndian.Uint64(data[i:])
				i += 8
				err = need(n)
			}
		case 0x8a, 'U', 'C', 0x8c: // LONG1, SHORT_BINSTRING, SHORT_BINBYTES, SHORT_BINUNICODE
			err = lenPrefixed(1)
		case 0x8b, 'T', 'B', 'X': // LONG4, BINSTRING, BINBYTES, BINUNICODE
			err = lenPrefixed(4)
		case 0x8d, 0x8e, 0x96: // BINUNICODE8, BINBYTES8, BYTEARRAY8
			err = lenPrefixed(8)
		case 'I', 'L', 'F', 'S', 'V', 'P', 'g', 'p':
			err = line()
		case 'c', 'i': // GLOBAL, INST: module and name lines
			if err = line(); err == nil {
				err = line()
			}
		default:
			err = fmt.Errorf("%w: unknown pickle opcode %#x at offset %d", ErrFormat, op, i-1)
		}
		if err != nil {
			return 0, err
		}
	}
	return 0, fmt.Errorf("%w: pickle without STOP", ErrFormat)
}
