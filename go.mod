module github.com/httptrace/httptrace

go 1.26.8

require (
	github.com/aquasecurity/libbpfgo v0.8.0-libbpf-1.5
	github.com/sirupsen/logrus v1.9.3
	golang.org/x/sys v0.0.0-20220715151400-c0bba94af5f8
	gopkg.in/yaml.v3 v3.0.1
)

require golang.org/x/arch v0.33.0
