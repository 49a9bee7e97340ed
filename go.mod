module fourbit

go 1.26

require (
	github.com/nlpodyssey/gopickle v0.2.0
	gonum.org/v1/gonum v0.17.0
)
