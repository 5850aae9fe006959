module local.test/realnode-images

go 1.25.0
