// binarytrees.go: the Benchmarks Game's binary-trees, single-threaded; the
// same algorithm, sizes and output as binarytrees.c.
//
//	binarytrees [max_depth]     default 21 (at least 6)
package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
)

type Node struct {
	left, right *Node
}

func bottomUp(depth int) *Node {
	if depth <= 0 {
		return &Node{}
	}
	left := bottomUp(depth - 1)
	right := bottomUp(depth - 1)
	return &Node{left, right}
}

func (n *Node) check() int {
	if n.left == nil {
		return 1
	}
	return 1 + n.left.check() + n.right.check()
}

func main() {
	const minDepth = 4
	n := 21
	if len(os.Args) > 1 {
		n, _ = strconv.Atoi(os.Args[1])
	}
	maxDepth := n
	if maxDepth < minDepth+2 {
		maxDepth = minDepth + 2
	}
	stretchDepth := maxDepth + 1
	out := bufio.NewWriter(os.Stdout)

	fmt.Fprintf(out, "stretch tree of depth %d\t check: %d\n", stretchDepth, bottomUp(stretchDepth).check())

	longLived := bottomUp(maxDepth)
	for d := minDepth; d <= maxDepth; d += 2 {
		iterations := 1 << (maxDepth - d + minDepth)
		sum := 0
		for i := 0; i < iterations; i++ {
			sum += bottomUp(d).check()
		}
		fmt.Fprintf(out, "%d\t trees of depth %d\t check: %d\n", iterations, d, sum)
		gcPoll()
	}
	fmt.Fprintf(out, "long lived tree of depth %d\t check: %d\n", maxDepth, longLived.check())
	out.Flush()
	gcReport()
}
