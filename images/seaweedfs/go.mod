// Wrapper module that builds SeaweedFS 4.53 (github.com/seaweedfs/seaweedfs, published on the
// Go module proxy only as pseudo-versions). `go install ...@<version>` refuses a module whose
// go.mod has a replace directive, so this module repeats SeaweedFS's one replace (go-bip39)
// and names the program as a tool.
module seaweedfs-build

go 1.26.6

replace github.com/tyler-smith/go-bip39 => github.com/cosmos/go-bip39 v1.0.0
