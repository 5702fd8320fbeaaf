#!/usr/bin/env python3
# make-testbed.py N FILE: writes a umockdev record of a host with N USB devices
#
# One xHCI controller per bus; each bus has its root hub, seven external hubs
# and sixteen mass-storage sticks behind each hub (120 devices a bus), so that
# N = 1000 gives nine buses, the last one partly filled. Every device has a
# serial number, a realistic attribute set and one interface, as the kernel
# shows them. The numbers come from the device's position: the same N gives
# the same file.
import sys


def attributes(f, attrs):
    for key, value in attrs:
        f.write("A: %s=%s\\n\n" % (key, value))


def device(f, path, bus, devnum, devpath, vid, pid, cls, product, serial, maxchild, speed="480"):
    f.write("P: %s\n" % path)
    f.write("E: BUSNUM=%03d\nE: DEVNUM=%03d\nE: DEVNAME=/dev/bus/usb/%03d/%03d\n" % (bus, devnum, bus, devnum))
    f.write("E: DEVTYPE=usb_device\nE: DRIVER=usb\nE: MAJOR=189\nE: MINOR=%d\n" % ((bus - 1) * 128 + devnum - 1))
    f.write("E: PRODUCT=%x/%x/100\nE: TYPE=%d/0/0\nE: SUBSYSTEM=usb\n" % (vid, pid, cls))
    attributes(f, [
        ("authorized", "1"), ("bConfigurationValue", "1"), ("bDeviceClass", "%02x" % cls),
        ("bDeviceProtocol", "00"), ("bDeviceSubClass", "00"), ("bMaxPacketSize0", "64"),
        ("bMaxPower", "100mA"), ("bNumConfigurations", "1"), ("bNumInterfaces", " 1"),
        ("bcdDevice", "0100"), ("bmAttributes", "80"), ("busnum", "%d" % bus),
        ("devnum", "%d" % devnum), ("devpath", devpath), ("idProduct", "%04x" % pid),
        ("idVendor", "%04x" % vid), ("manufacturer", "Bench"), ("product", product),
        ("serial", serial), ("maxchild", "%d" % maxchild), ("removable", "removable"),
        ("speed", speed), ("version", " 2.00"),
    ])
    f.write("\n")
    iface_class = 9 if cls == 9 else 8
    f.write("P: %s/%s:1.0\n" % (path, path.rsplit("/", 1)[1]))
    f.write("E: DEVTYPE=usb_interface\nE: SUBSYSTEM=usb\nE: INTERFACE=%d/0/0\n" % iface_class)
    attributes(f, [
        ("bAlternateSetting", " 0"), ("bInterfaceClass", "%02x" % iface_class),
        ("bInterfaceNumber", "00"), ("bInterfaceProtocol", "00"),
        ("bInterfaceSubClass", "00"), ("bNumEndpoints", "01"),
    ])
    f.write("\n")


def main():
    count = int(sys.argv[1])
    out = open(sys.argv[2], "w")
    made = 0
    bus = 0
    while made < count:
        bus += 1
        pci = "/devices/pci0000:00/0000:00:%02x.0" % (0x10 + bus)
        out.write("P: %s\nE: DRIVER=xhci_hcd\nE: PCI_CLASS=C0330\nE: PCI_ID=8086:A36D\n"
                  "E: PCI_SLOT_NAME=0000:00:%02x.0\nE: SUBSYSTEM=pci\n" % (pci, 0x10 + bus))
        attributes(out, [("class", "0x0c0330"), ("device", "0xa36d"), ("vendor", "0x8086")])
        out.write("\n")
        root = "%s/usb%d" % (pci, bus)
        device(out, root, bus, 1, "0", 0x1d6b, 0x0002, 9, "xHCI Host Controller", "0000:00:%02x.0" % (0x10 + bus), 7)
        made += 1
        devnum = 2
        for hub in range(1, 8):
            if made >= count:
                break
            hub_port = "%d-%d" % (bus, hub)
            hub_path = "%s/%s" % (root, hub_port)
            device(out, hub_path, bus, devnum, "%d" % hub, 0x05e3, 0x0610, 9, "USB2.0 Hub", "HUB%02d%02d" % (bus, hub), 16)
            made += 1
            devnum += 1
            for port in range(1, 17):
                if made >= count:
                    break
                name = "%s.%d" % (hub_port, port)
                device(out, "%s/%s" % (hub_path, name), bus, devnum, "%d.%d" % (hub, port),
                       0x0781, 0x5567, 0, "Cruzer Blade", "BENCH%02d%02d%02d" % (bus, hub, port), 0)
                made += 1
                devnum += 1
    out.close()


main()
