site: demo
luks:
  cipher: aes-xts-plain64
  key_size: 512
