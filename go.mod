module fourbit

go 1.26

require (
	github.com/hajimehoshi/go-mp3 v0.3.4
	github.com/nlpodyssey/gopickle v0.2.0
	gonum.org/v1/gonum v0.17.0
	google.golang.org/protobuf v1.36.12
)
