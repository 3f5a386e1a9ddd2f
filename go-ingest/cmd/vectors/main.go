// Command vectors writes the Go encodings of the contract samples to
// schemas/vectors/go/<tag>.msgpack and <tag>.json (plus store_layout.*), for
// the Python tests that decode them. It is deterministic: rerunning it on an
// up-to-date tree changes nothing.
//
//	go run ./cmd/vectors            # from go-ingest/, finds ../schemas/vectors
//	go run ./cmd/vectors -out DIR
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/footfall/footfall/go-ingest/contract"
)

func main() {
	out := flag.String("out", "", "output directory (default: <schemas/vectors>/go)")
	flag.Parse()
	dir := *out
	if dir == "" {
		vectors, err := contract.FindVectorsDir()
		if err != nil {
			fmt.Fprintln(os.Stderr, "vectors:", err)
			os.Exit(1)
		}
		dir = filepath.Join(vectors, "go")
	}
	if err := contract.WriteGoVectors(dir); err != nil {
		fmt.Fprintln(os.Stderr, "vectors:", err)
		os.Exit(1)
	}
	fmt.Println("wrote", dir)
}
