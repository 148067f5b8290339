// Wrapper module that builds Jaeger v2 (github.com/jaegertracing/jaeger v1.76.0, released as
// Jaeger 2.13.0). `go install ...@v1.76.0` refuses a module whose go.mod has a replace
// directive, so this module repeats Jaeger's one replace and names the program as a tool.
module jaeger-build

go 1.24.6

replace github.com/Shopify/sarama => github.com/Shopify/sarama v1.33.0
