module fourbit

go 1.26

require (
	github.com/nlpodyssey/gopickle v0.2.0
	gonum.org/v1/gonum v0.17.0
)

require google.golang.org/protobuf v1.36.12 // indirect
