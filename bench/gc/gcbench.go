// gcbench.go: Ellis, Kovac and Boehm's GCBench; the same algorithm, sizes
// and output as gcbench.c (Node is { left, right; i, j int32 }, 24 bytes).
package main

import (
	"bufio"
	"fmt"
	"os"
	"unsafe"
)

const (
	kStretchTreeDepth   = 18
	kLongLivedTreeDepth = 16
	kArraySize          = 500000
	kMinTreeDepth       = 4
	kMaxTreeDepth       = 16
)

type Node struct {
	left, right *Node
	i, j        int32
}

var out = bufio.NewWriter(os.Stdout)

func newNode(left, right *Node) *Node {
	return &Node{left: left, right: right}
}

// Nodes in a tree of the given depth.
func treeSize(i int) int {
	return (1 << (i + 1)) - 1
}

// Trees built (each way) at the given depth.
func numIters(i int) int {
	return 2 * treeSize(kStretchTreeDepth) / treeSize(i)
}

// Builds a tree top-down, storing young nodes into older ones.
func populate(depth int, n *Node) {
	if depth <= 0 {
		return
	}
	depth--
	n.left = newNode(nil, nil)
	n.right = newNode(nil, nil)
	populate(depth, n.left)
	populate(depth, n.right)
}

// Builds a tree bottom-up.
func makeTree(depth int) *Node {
	if depth <= 0 {
		return newNode(nil, nil)
	}
	left := makeTree(depth - 1)
	right := makeTree(depth - 1)
	return newNode(left, right)
}

func count(n *Node) int {
	if n.left == nil {
		return 1
	}
	return 1 + count(n.left) + count(n.right)
}

func timeConstruction(depth int) {
	iters := numIters(depth)
	last := 0
	fmt.Fprintf(out, "Creating %d trees of depth %d\n", iters, depth)
	for i := 0; i < iters; i++ {
		t := newNode(nil, nil)
		populate(depth, t)
		if i == iters-1 {
			last = count(t)
		}
	}
	fmt.Fprintf(out, "\tTop down construction: last tree has %d nodes\n", last)
	for i := 0; i < iters; i++ {
		t := makeTree(depth)
		if i == iters-1 {
			last = count(t)
		}
	}
	fmt.Fprintf(out, "\tBottom up construction: last tree has %d nodes\n", last)
}

func main() {
	fmt.Fprintf(out, "Garbage Collector Test\n")
	fmt.Fprintf(out, " Live storage will peak at %d bytes.\n\n",
		2*int(unsafe.Sizeof(Node{}))*treeSize(kLongLivedTreeDepth)+8*kArraySize)
	fmt.Fprintf(out, " Stretching memory with a binary tree of depth %d\n", kStretchTreeDepth)
	makeTree(kStretchTreeDepth)

	fmt.Fprintf(out, " Creating a long-lived binary tree of depth %d\n", kLongLivedTreeDepth)
	longLived := newNode(nil, nil)
	populate(kLongLivedTreeDepth, longLived)

	fmt.Fprintf(out, " Creating a long-lived array of %d doubles\n", kArraySize)
	array := make([]float64, kArraySize)
	for i := 0; i < kArraySize/2; i++ {
		array[i] = 1.0 / float64(i)
	}

	for d := kMinTreeDepth; d <= kMaxTreeDepth; d += 2 {
		timeConstruction(d)
		gcPoll()
	}

	if longLived == nil || array[1000] != 1.0/1000 {
		fmt.Fprintln(os.Stderr, "Failed")
	}
	fmt.Fprintf(out, "Long-lived tree has %d nodes, array[1000] = %g\n", count(longLived), array[1000])
	out.Flush()
	gcReport()
}
