// Command gen writes a sample input for the interop checker
// (../go/main.go), built only from the Go reference implementation:
// note.GenerateKey/note.Sign for the signed checkpoint and
// tlog.StoredHashes/TreeHash/ProveRecord/ProveTree for the RFC 6962 tree.
// It exists to test the checker itself; SiteLedger's own tests feed the
// checker from the Rust implementation.
//
// Build and run offline, in GOPATH mode, from the repository root:
//
//	GO111MODULE=off GOPATH=/usr/share/gocode GOFLAGS= GOPROXY=off \
//	  GOCACHE="${TMPDIR:-/tmp}/siteledger-go-cache" \
//	  go run signer/tests/interop/gen/gen.go -size 13 > /tmp/good.json
//
// -tamper MODE writes an input that the checker must reject with exit
// status 1: sig, root, leaf, inclusion, consistency, oldroot, size.
package main

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"os"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

type memReader []tlog.Hash

func (m memReader) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		if x < 0 || x >= int64(len(m)) {
			return nil, fmt.Errorf("stored hash %d out of range", x)
		}
		out[i] = m[x]
	}
	return out, nil
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func hashes(hs []tlog.Hash) []string {
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = b64(h[:])
	}
	return out
}

func die(err error) {
	fmt.Fprintln(os.Stderr, "gen:", err)
	os.Exit(2)
}

func flip(s string) string {
	raw, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		die(err)
	}
	raw[len(raw)/2] ^= 1
	return b64(raw)
}

func main() {
	size := flag.Int64("size", 13, "tree size of the checkpoint (0 for an empty tree)")
	origin := flag.String("origin", "siteledger.example/interop-test", "checkpoint origin and key name")
	tamper := flag.String("tamper", "", "corrupt one part: sig, root, leaf, inclusion, consistency, oldroot, size")
	flag.Parse()
	if *size < 0 {
		die(fmt.Errorf("-size must be >= 0"))
	}

	var stored memReader
	leaves := make([]string, *size)
	for i := int64(0); i < *size; i++ {
		leaf := []byte(fmt.Sprintf("siteledger interop leaf %d", i))
		leaves[i] = b64(leaf)
		hs, err := tlog.StoredHashes(i, leaf, stored)
		if err != nil {
			die(err)
		}
		stored = append(stored, hs...)
	}
	root, err := tlog.TreeHash(*size, stored)
	if err != nil {
		die(err)
	}
	if *size == 0 {
		// RFC 9162 section 2.1.1: the empty tree's hash is SHA-256 of the
		// empty string; tlog.TreeHash returns all zeroes instead.
		root = sha256.Sum256(nil)
	}

	skey, vkey, err := note.GenerateKey(rand.Reader, *origin)
	if err != nil {
		die(err)
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		die(err)
	}
	body := fmt.Sprintf("%s\n%d\n%s\n", *origin, *size, root)
	if *tamper == "root" {
		r := root
		r[0] ^= 1
		body = fmt.Sprintf("%s\n%d\n%s\n", *origin, *size, r)
	}
	if *tamper == "size" {
		body = fmt.Sprintf("%s\n%d\n%s\n", *origin, *size+1, root)
	}
	msg, err := note.Sign(&note.Note{Text: body}, signer)
	if err != nil {
		die(err)
	}
	checkpoint := string(msg)
	if *tamper == "sig" {
		// Change the body after signing.
		checkpoint = fmt.Sprintf("%s\n%d\n%s\nextra\n", *origin, *size, root) + checkpoint[len(body):]
	}

	type inclusion struct {
		Index  int64    `json:"index"`
		Hashes []string `json:"hashes"`
	}
	type consistency struct {
		OldSize int64    `json:"old_size"`
		OldRoot string   `json:"old_root"`
		Hashes  []string `json:"hashes"`
	}
	incl := []inclusion{}
	cons := []consistency{}
	if *size == 0 {
		goto done
	}
	for _, i := range []int64{0, *size / 2, *size - 1} {
		p, err := tlog.ProveRecord(*size, i, stored)
		if err != nil {
			die(err)
		}
		incl = append(incl, inclusion{i, hashes(p)})
	}
	for _, old := range []int64{1, (*size + 1) / 2, *size} {
		p, err := tlog.ProveTree(*size, old, stored)
		if err != nil {
			die(err)
		}
		oldRoot, err := tlog.TreeHash(old, stored)
		if err != nil {
			die(err)
		}
		cons = append(cons, consistency{old, b64(oldRoot[:]), hashes(p)})
	}

done:
	switch *tamper {
	case "", "root", "size", "sig":
	case "leaf":
		leaves[0] = b64([]byte("not the logged leaf"))
	case "inclusion":
		last := &incl[len(incl)-1]
		if len(last.Hashes) == 0 {
			die(fmt.Errorf("inclusion proof is empty; use a larger -size"))
		}
		last.Hashes[0] = flip(last.Hashes[0])
	case "consistency":
		c := &cons[len(cons)/2]
		if len(c.Hashes) == 0 {
			die(fmt.Errorf("consistency proof is empty; use a larger -size"))
		}
		c.Hashes[len(c.Hashes)-1] = flip(c.Hashes[len(c.Hashes)-1])
	case "oldroot":
		cons[0].OldRoot = flip(cons[0].OldRoot)
	default:
		die(fmt.Errorf("unknown -tamper %q", *tamper))
	}

	out := map[string]interface{}{
		"vkey":        vkey,
		"checkpoint":  checkpoint,
		"leaves":      leaves,
		"inclusion":   incl,
		"consistency": cons,
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		die(err)
	}
}
