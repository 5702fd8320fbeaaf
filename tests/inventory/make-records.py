#!/usr/bin/env python3
# make-records.py: writes the umockdev records of tests/data/ that model USB hardware
#
# The records are committed; this script is how they were made, so that a
# change to a device is a change here and not hours of hand-editing hex. Every
# usb_device gets the binary "descriptors" attribute the kernel exposes (device
# descriptor plus the raw configuration descriptor), so that lsusb and lsusb -t
# see the devices under umockdev-run too. String attributes end in "\n" as the
# kernel writes them.
#
#   tests/inventory/make-records.py tests/data
import os
import struct
import sys


def le16(value):
    return struct.pack('<H', value)


def device_descriptor(d):
    return bytes([18, 1]) + le16(d['bcd_usb']) + bytes([
        d['class'], d['subclass'], d['protocol'], d['mps0']
    ]) + le16(d['vid']) + le16(d['pid']) + le16(d['bcd']) + bytes([
        1 if d.get('manufacturer') is not None else 0,
        2 if d.get('product') is not None else 0,
        3 if d.get('serial') is not None else 0,
        1,
    ])


def endpoint(address, attributes, max_packet, interval, superspeed=False):
    data = bytes([7, 5, address, attributes]) + le16(max_packet) + bytes([interval])
    if superspeed:
        data += bytes([6, 0x30, 0, 0]) + le16(max_packet if attributes == 3 else 0)
    return data


def interface_block(i, superspeed):
    data = bytes([9, 4, i['number'], i.get('alt', 0), len(i['endpoints']),
                  i['class'], i['subclass'], i['protocol'], 0])
    if i['class'] == 3:
        # HID class descriptor: bcdHID 1.11, country 0, one report descriptor
        data += bytes([9, 0x21, 0x11, 0x01, 0, 1, 0x22]) + le16(i.get('report_len', 63))
    for ep in i['endpoints']:
        data += endpoint(*ep, superspeed=superspeed)
    return data


def config_descriptor(d):
    superspeed = d['speed'] in ('5000', '10000', '20000')
    body = b''
    for i in d['interfaces']:
        body += interface_block(i, superspeed)
        for alt in i.get('alternates', []):
            body += interface_block(dict(i, **alt), superspeed)
    numbers = {i['number'] for i in d['interfaces']}
    header = bytes([9, 2]) + le16(9 + len(body)) + bytes([
        len(numbers), 1, 0, d['attributes'], d['max_power_ma'] // (8 if superspeed else 2)
    ])
    return header + body


def escape(text):
    return text.replace('\\', '\\\\').replace('\n', '\\n')


def attr(name, value):
    return 'A: %s=%s\n' % (name, escape(value))


def hexattr(name, data):
    return 'H: %s=%s\n' % (name, data.hex().upper())


def port_dirs(port):
    """'1-4.1' -> ['1-4', '1-4.1']; 'usb1' -> []"""
    if port.startswith('usb'):
        return []
    bus, path = port.split('-', 1)
    parts = path.split('.')
    return ['%s-%s' % (bus, '.'.join(parts[:n + 1])) for n in range(len(parts))]


def syspath(controller, bus, port):
    return '/'.join([controller, 'usb%d' % bus] + port_dirs(port))


def pci_record(d):
    out = 'P: %s\n' % d['path']
    out += 'E: DRIVER=%s\n' % d['driver']
    out += 'E: PCI_CLASS=%X\n' % d['class']
    out += 'E: PCI_ID=%04X:%04X\n' % (d['vid'], d['did'])
    out += 'E: PCI_SUBSYS_ID=%04X:%04X\n' % (d['svid'], d['sdid'])
    out += 'E: PCI_SLOT_NAME=%s\n' % d['path'].rsplit('/', 1)[1]
    out += 'E: MODALIAS=pci:v%08Xd%08Xsv%08Xsd%08Xbc%02Xsc%02Xi%02X\n' % (
        d['vid'], d['did'], d['svid'], d['sdid'], d['class'] >> 16, (d['class'] >> 8) & 0xff,
        d['class'] & 0xff)
    out += 'E: SUBSYSTEM=pci\n'
    out += attr('class', '0x%06x\n' % d['class'])
    out += attr('device', '0x%04x\n' % d['did'])
    out += attr('vendor', '0x%04x\n' % d['vid'])
    out += attr('subsystem_device', '0x%04x\n' % d['sdid'])
    out += attr('subsystem_vendor', '0x%04x\n' % d['svid'])
    out += attr('revision', '0x%02x\n' % d.get('revision', 0x10))
    out += attr('irq', '%d\n' % d.get('irq', 16))
    out += 'L: driver=../../../bus/pci/drivers/%s\n' % d['driver']
    return out + '\n'


def usb_record(controller, d):
    bus = d['bus']
    port = d['port']
    path = syspath(controller, bus, port)
    descriptors = d.get('descriptors')
    if descriptors is None:
        descriptors = device_descriptor(d) + config_descriptor(d)
    omit = d.get('omit', set())
    override = d.get('override', {})
    devname = 'bus/usb/%03d/%03d' % (bus, d['devnum'])
    minor = (bus - 1) * 128 + d['devnum'] - 1
    depth = path.count("/")

    def a(name, value):
        if name in omit:
            return ''
        if name in override:
            value = override[name]
            if isinstance(value, bytes):
                return hexattr(name, value)
        return attr(name, value)

    out = 'P: %s\n' % path
    out += 'N: %s=%s\n' % (devname, descriptors.hex().upper())
    if 'BUSNUM' not in omit:
        out += 'E: BUSNUM=%03d\n' % bus
    if 'DEVNUM' not in omit:
        out += 'E: DEVNUM=%s\n' % override.get('DEVNUM', '%03d' % d['devnum'])
    out += 'E: DEVNAME=/dev/%s\n' % devname
    out += 'E: DEVTYPE=usb_device\n'
    out += 'E: DRIVER=usb\n'
    out += 'E: MAJOR=189\n'
    out += 'E: MINOR=%d\n' % minor
    out += 'E: PRODUCT=%x/%x/%x\n' % (d['vid'], d['pid'], d['bcd'])
    out += 'E: TYPE=%d/%d/%d\n' % (d['class'], d['subclass'], d['protocol'])
    out += 'E: SUBSYSTEM=usb\n'
    out += a('authorized', '1\n')
    out += a('avoid_reset_quirk', '0\n')
    out += a('bConfigurationValue', '1\n')
    out += a('bDeviceClass', '%02x\n' % d['class'])
    out += a('bDeviceProtocol', '%02x\n' % d['protocol'])
    out += a('bDeviceSubClass', '%02x\n' % d['subclass'])
    out += a('bMaxPacketSize0', '%d\n' % d['mps0'])
    out += a('bMaxPower', '%dmA\n' % d['max_power_ma'])
    out += a('bNumConfigurations', '1\n')
    out += a('bNumInterfaces', '%2d\n' % len({i['number'] for i in d['interfaces']}))
    out += a('bcdDevice', '%04x\n' % d['bcd'])
    out += a('bmAttributes', '%2x\n' % d['attributes'])
    out += a('busnum', '%d\n' % bus)
    out += a('configuration', '\n')
    if 'descriptors' not in omit:
        if 'descriptors' in override:
            out += hexattr('descriptors', override['descriptors'])
        else:
            out += hexattr('descriptors', descriptors)
    out += a('dev', '189:%d\n' % minor)
    out += a('devnum', '%d\n' % d['devnum'])
    out += a('devpath', '%s\n' % (port.split('-', 1)[1] if '-' in port else '0'))
    out += 'L: driver=%s/bus/usb/drivers/usb\n' % '/'.join(['..'] * depth)
    out += a('idProduct', '%04x\n' % d['pid'])
    out += a('idVendor', '%04x\n' % d['vid'])
    out += a('ltm_capable', 'no\n')
    for key in ('manufacturer', 'product', 'serial'):
        value = d.get(key)
        if value is None:
            continue
        if isinstance(value, bytes):
            out += hexattr(key, value)
        else:
            out += a(key, value + '\n')
    out += a('maxchild', '%d\n' % d.get('maxchild', 0))
    out += a('quirks', '0x0\n')
    out += a('removable', '%s\n' % d.get('removable', 'removable'))
    out += a('rx_lanes', '1\n')
    out += a('speed', '%s\n' % d['speed'])
    out += a('tx_lanes', '1\n')
    out += a('urbnum', '%d\n' % d.get('urbnum', 42))
    out += a('version', '%2x.%02x\n' % (d['bcd_usb'] >> 8, d['bcd_usb'] & 0xff))
    out += '\n'

    ifprefix = port if '-' in port else '%d-0' % bus
    for i in d['interfaces']:
        name = '%s:1.%d' % (ifprefix, i['number'])
        out += 'P: %s/%s\n' % (path, name)
        out += 'E: DEVTYPE=usb_interface\n'
        if i.get('driver'):
            out += 'E: DRIVER=%s\n' % i['driver']
        out += 'E: PRODUCT=%x/%x/%x\n' % (d['vid'], d['pid'], d['bcd'])
        out += 'E: TYPE=%d/%d/%d\n' % (d['class'], d['subclass'], d['protocol'])
        out += 'E: INTERFACE=%d/%d/%d\n' % (i['class'], i['subclass'], i['protocol'])
        modalias = 'usb:v%04Xp%04Xd%04Xdc%02Xdsc%02Xdp%02Xic%02Xisc%02Xip%02Xin%02X' % (
            d['vid'], d['pid'], d['bcd'], d['class'], d['subclass'], d['protocol'], i['class'],
            i['subclass'], i['protocol'], i['number'])
        out += 'E: MODALIAS=%s\n' % modalias
        out += 'E: SUBSYSTEM=usb\n'
        iface_override = i.get('override', {})

        def ia(key, value):
            return attr(key, iface_override.get(key, value))

        out += ia('authorized', '1\n')
        out += ia('bAlternateSetting', '%2d\n' % 0)
        out += ia('bInterfaceClass', '%02x\n' % i['class'])
        out += ia('bInterfaceNumber', '%02x\n' % i['number'])
        out += ia('bInterfaceProtocol', '%02x\n' % i['protocol'])
        out += ia('bInterfaceSubClass', '%02x\n' % i['subclass'])
        out += ia('bNumEndpoints', '%02x\n' % len(i['endpoints']))
        if i.get('driver'):
            out += 'L: driver=%s/bus/usb/drivers/%s\n' % ('/'.join(['..'] * (depth + 1)),
                                                       i['driver'])
        out += ia('modalias', modalias + '\n')
        out += ia('supports_autosuspend', '1\n')
        out += '\n'
    return out


def root_hub(bus, usb3, hcd, manufacturer_driver, pci_address, ports, speed):
    hub_ep = [(0x81, 3, 2 if usb3 else 4, 12)]
    return {
        'bus': bus, 'port': 'usb%d' % bus, 'devnum': 1,
        'bcd_usb': 0x0310 if usb3 else 0x0200, 'class': 9, 'subclass': 0,
        'protocol': 3 if usb3 else (1 if hcd == 'xHCI' else 0), 'mps0': 9 if usb3 else 64,
        'vid': 0x1d6b, 'pid': 0x0003 if usb3 else 0x0002, 'bcd': 0x0601,
        'manufacturer': 'Linux 6.1.0-13-amd64 %s' % manufacturer_driver,
        'product': '%s Host Controller' % hcd, 'serial': pci_address,
        'speed': speed, 'maxchild': ports, 'attributes': 0xe0, 'max_power_ma': 0,
        'removable': 'unknown',
        'interfaces': [{'number': 0, 'class': 9, 'subclass': 0, 'protocol': 0,
                        'endpoints': hub_ep, 'driver': 'hub'}],
    }


def hub(bus, port, devnum, vid, pid, bcd, manufacturer, product, ports, multi_tt):
    iface = {'number': 0, 'class': 9, 'subclass': 0, 'protocol': 1 if multi_tt else 0,
             'endpoints': [(0x81, 3, 1, 12)], 'driver': 'hub'}
    if multi_tt:
        iface['alternates'] = [{'alt': 1, 'protocol': 2}]
    return {
        'bus': bus, 'port': port, 'devnum': devnum, 'bcd_usb': 0x0200, 'class': 9,
        'subclass': 0, 'protocol': 2 if multi_tt else 1, 'mps0': 64, 'vid': vid, 'pid': pid,
        'bcd': bcd, 'manufacturer': manufacturer, 'product': product, 'speed': '480',
        'maxchild': ports, 'attributes': 0xe0, 'max_power_ma': 100, 'interfaces': [iface],
    }


XHCI = {'path': '/devices/pci0000:00/0000:00:14.0', 'driver': 'xhci_hcd', 'class': 0x0c0330,
        'vid': 0x8086, 'did': 0xa36d, 'svid': 0x1028, 'sdid': 0x0869, 'irq': 124}
EHCI = {'path': '/devices/pci0000:00/0000:00:1d.0', 'driver': 'ehci-pci', 'class': 0x0c0320,
        'vid': 0x8086, 'did': 0x1e26, 'svid': 0x1028, 'sdid': 0x0869, 'revision': 0x04,
        'irq': 23}


def sandisk(bus, port, devnum, serial='4C530001231122117043'):
    return {
        'bus': bus, 'port': port, 'devnum': devnum, 'bcd_usb': 0x0200, 'class': 0,
        'subclass': 0, 'protocol': 0, 'mps0': 64, 'vid': 0x0781, 'pid': 0x5567,
        'bcd': 0x0100, 'manufacturer': 'SanDisk', 'product': 'Cruzer Blade', 'serial': serial,
        'speed': '480', 'attributes': 0x80, 'max_power_ma': 200,
        'interfaces': [{'number': 0, 'class': 8, 'subclass': 6, 'protocol': 0x50,
                        'endpoints': [(0x81, 2, 512, 0), (0x02, 2, 512, 0)],
                        'driver': 'usb-storage'}],
    }


def ch340(bus, port, devnum):
    return {
        'bus': bus, 'port': port, 'devnum': devnum, 'bcd_usb': 0x0110, 'class': 0xff,
        'subclass': 0, 'protocol': 0, 'mps0': 8, 'vid': 0x1a86, 'pid': 0x7523,
        'bcd': 0x0264, 'product': 'USB Serial', 'speed': '12', 'attributes': 0x80,
        'max_power_ma': 98,
        'interfaces': [{'number': 0, 'class': 0xff, 'subclass': 1, 'protocol': 2,
                        'endpoints': [(0x82, 2, 32, 0), (0x02, 2, 32, 0), (0x81, 3, 8, 1)],
                        'driver': 'ch341'}],
    }


def ftdi(bus, port, devnum):
    return {
        'bus': bus, 'port': port, 'devnum': devnum, 'bcd_usb': 0x0200, 'class': 0,
        'subclass': 0, 'protocol': 0, 'mps0': 8, 'vid': 0x0403, 'pid': 0x6001,
        'bcd': 0x0600, 'manufacturer': 'FTDI', 'product': 'FT232R USB UART',
        'serial': 'A50285BI', 'speed': '12', 'attributes': 0xa0, 'max_power_ma': 90,
        'interfaces': [{'number': 0, 'class': 0xff, 'subclass': 0xff, 'protocol': 0xff,
                        'endpoints': [(0x81, 2, 64, 0), (0x02, 2, 64, 0)],
                        'driver': 'ftdi_sio'}],
    }


def demo():
    xhci = XHCI['path']
    ehci = EHCI['path']
    bus1 = [
        root_hub(1, False, 'xHCI', 'xhci-hcd', '0000:00:14.0', 12, '480'),
        {
            'bus': 1, 'port': '1-1', 'devnum': 2, 'bcd_usb': 0x0200, 'class': 0, 'subclass': 0,
            'protocol': 0, 'mps0': 8, 'vid': 0x046d, 'pid': 0xc52b, 'bcd': 0x1211,
            'manufacturer': 'Logitech', 'product': 'USB Receiver', 'speed': '12',
            'attributes': 0xa0, 'max_power_ma': 98,
            'interfaces': [
                {'number': 0, 'class': 3, 'subclass': 1, 'protocol': 1, 'report_len': 59,
                 'endpoints': [(0x81, 3, 8, 8)], 'driver': 'usbhid'},
                {'number': 1, 'class': 3, 'subclass': 1, 'protocol': 2, 'report_len': 148,
                 'endpoints': [(0x82, 3, 8, 2)], 'driver': 'usbhid'},
                {'number': 2, 'class': 3, 'subclass': 0, 'protocol': 0, 'report_len': 98,
                 'endpoints': [(0x83, 3, 32, 2)], 'driver': 'usbhid'},
            ],
        },
        sandisk(1, '1-3', 9),
        hub(1, '1-4', 3, 0x05e3, 0x0610, 0x6060, 'GenesysLogic', 'USB2.0 Hub', 4, True),
        {
            'bus': 1, 'port': '1-4.1', 'devnum': 4, 'bcd_usb': 0x0200, 'class': 0,
            'subclass': 0, 'protocol': 0, 'mps0': 64, 'vid': 0x1050, 'pid': 0x0407,
            'bcd': 0x0543, 'manufacturer': 'Yubico', 'product': 'YubiKey OTP+FIDO+CCID',
            'serial': '16123456', 'speed': '12', 'attributes': 0x80, 'max_power_ma': 30,
            'interfaces': [
                {'number': 0, 'class': 3, 'subclass': 1, 'protocol': 1, 'report_len': 71,
                 'endpoints': [(0x81, 3, 8, 10)], 'driver': 'usbhid'},
                {'number': 1, 'class': 3, 'subclass': 0, 'protocol': 0, 'report_len': 34,
                 'endpoints': [(0x04, 3, 64, 2), (0x84, 3, 64, 2)], 'driver': 'usbhid'},
                {'number': 2, 'class': 0x0b, 'subclass': 0, 'protocol': 0,
                 'endpoints': [(0x02, 2, 64, 0), (0x82, 2, 64, 0), (0x83, 3, 8, 32)]},
            ],
        },
        ftdi(1, '1-4.2', 5),
        ch340(1, '1-4.3', 6),
        ch340(1, '1-4.4', 7),
    ]
    bus2 = [root_hub(2, True, 'xHCI', 'xhci-hcd', '0000:00:14.0', 6, '10000')]
    bus3 = [
        root_hub(3, False, 'EHCI', 'ehci_hcd', '0000:00:1d.0', 2, '480'),
        hub(3, '3-1', 2, 0x8087, 0x0024, 0x0000, None, None, 6, False),
        {
            'bus': 3, 'port': '3-1.1', 'devnum': 3, 'bcd_usb': 0x0110, 'class': 0,
            'subclass': 0, 'protocol': 0, 'mps0': 8, 'vid': 0x413c, 'pid': 0x2113,
            'bcd': 0x0108, 'product': 'Dell KB216 Wired Keyboard', 'speed': '1.5',
            'attributes': 0xa0, 'max_power_ma': 100,
            'interfaces': [
                {'number': 0, 'class': 3, 'subclass': 1, 'protocol': 1, 'report_len': 65,
                 'endpoints': [(0x81, 3, 8, 24)], 'driver': 'usbhid'},
                {'number': 1, 'class': 3, 'subclass': 0, 'protocol': 0, 'report_len': 159,
                 'endpoints': [(0x82, 3, 8, 10)], 'driver': 'usbhid'},
            ],
        },
    ]
    out = pci_record(XHCI)
    for d in bus1 + bus2:
        out += usb_record(xhci, d)
    out += pci_record(EHCI)
    for d in bus3:
        out += usb_record(ehci, d)
    return out


def hostile():
    xhci = XHCI['path']
    long_product = ('\u00e9' * 1000 + 'A' * 2048 + '<script>').encode()  # 4 KiB and more
    devices = [
        root_hub(1, False, 'xHCI', 'xhci-hcd', '0000:00:14.0', 4, '480'),
        {
            'bus': 1, 'port': '1-1', 'devnum': 2, 'bcd_usb': 0x0200, 'class': 0, 'subclass': 0,
            'protocol': 0, 'mps0': 64, 'vid': 0x1234, 'pid': 0xabcd, 'bcd': 0x0001,
            'manufacturer': b'Evil "Corp" <b>&amp;</b> \'x\'\\',
            'product': b'line1\nline2\r\n\x1b[31mred\x1b[0m\x07\x00hidden',
            'serial': b'\xff\xfe\xc3(bad\xe2\x82utf8/../"',
            'speed': '480', 'attributes': 0x80, 'max_power_ma': 100,
            'interfaces': [{'number': 0, 'class': 0xff, 'subclass': 0, 'protocol': 0,
                            'endpoints': [(0x81, 2, 512, 0)]}],
        },
        {
            'bus': 1, 'port': '1-2', 'devnum': 3, 'bcd_usb': 0x0200, 'class': 0, 'subclass': 0,
            'protocol': 0, 'mps0': 64, 'vid': 0x1234, 'pid': 0xabce, 'bcd': 0x0001,
            'manufacturer': b'\xe2\x80\xae\xc2\x9b2J\x1b]0;pwned\x07',
            'product': long_product, 'serial': b'x' * 300,
            'speed': '480', 'attributes': 0x80, 'max_power_ma': 100,
            'interfaces': [{'number': 0, 'class': 0xff, 'subclass': 0, 'protocol': 0,
                            'endpoints': [(0x81, 2, 512, 0)]}],
        },
        {
            'bus': 1, 'port': '1-3', 'devnum': 4, 'bcd_usb': 0x0200, 'class': 0, 'subclass': 0,
            'protocol': 0, 'mps0': 64, 'vid': 0x1234, 'pid': 0xabcf, 'bcd': 0x0001,
            'manufacturer': b'  \n\t ', 'product': b'\x01\x02\x03', 'serial': b'ok serial 1',
            'speed': '480', 'attributes': 0x80, 'max_power_ma': 100,
            'interfaces': [{'number': 0, 'class': 0xff, 'subclass': 0, 'protocol': 0,
                            'endpoints': [(0x81, 2, 512, 0)]}],
        },
    ]
    out = pci_record(XHCI)
    for d in devices:
        out += usb_record(xhci, d)
    return out


def broken():
    xhci = XHCI['path']
    garbled = ch340(1, '1-1', 2)
    garbled.update({'omit': {'busnum', 'BUSNUM', 'descriptors'},
                    'override': {'devnum': 'abc\n', 'DEVNUM': 'abc', 'idVendor': 'zzzz\n'}})
    truncated = sandisk(1, '1-3', 4)
    truncated.update({'omit': {'bcdDevice'},
                      'override': {'descriptors': bytes([0x12, 0x01, 0x00]),
                                   'speed': 'warp\n'}})
    bad_iface = ftdi(1, '1-4', 5)
    bad_iface['serial'] = 'A10KXQ7Z'
    bad_iface['interfaces'][0]['override'] = {'bInterfaceClass': 'xx\n'}
    bad_iface.update({'omit': {'descriptors'}})
    devices = [
        root_hub(1, False, 'xHCI', 'xhci-hcd', '0000:00:14.0', 4, '480'),
        garbled,
        ftdi(1, '1-2', 3),
        truncated,
        bad_iface,
    ]
    out = pci_record(XHCI)
    for d in devices:
        out += usb_record(xhci, d)
    return out


def shared_serial():
    xhci = XHCI['path']
    devices = [
        root_hub(1, False, 'xHCI', 'xhci-hcd', '0000:00:14.0', 4, '480'),
        hub(1, '1-2', 2, 0x05e3, 0x0610, 0x6060, 'GenesysLogic', 'USB2.0 Hub', 4, True),
        sandisk(1, '1-1', 5, serial='0123456789ABCDEF'),
        sandisk(1, '1-2.1', 3, serial='0123456789ABCDEF'),
        sandisk(1, '1-2.2', 4, serial='4C530001231122117043'),
        ftdi(1, '1-2.3', 6),
    ]
    # the same serial on another vendor:product is no conflict: identities are per vendor:product
    devices[-1]['serial'] = '0123456789ABCDEF'
    out = pci_record(XHCI)
    for d in devices:
        out += usb_record(xhci, d)
    return out


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else '.'
    for name, make in (('demo', demo), ('hostile', hostile), ('broken', broken),
                       ('shared-serial', shared_serial)):
        fname = '%s.umockdev' % name
        with open(os.path.join(outdir, fname), 'w', encoding='utf-8') as f:
            f.write(make())


if __name__ == '__main__':
    main()
