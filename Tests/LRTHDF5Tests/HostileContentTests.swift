import CHDF5
import Foundation
import LRTHDF5
import XCTest

/// Files written by other tools (crafted here with the C API): fixed-length strings,
/// invalid UTF-8, unsupported types and oversized shapes are read or refused cleanly.
final class HostileContentTests: HDF5TestCase {
    /// Creates a file with the raw C API and returns its path.
    private func craftFile(_ body: (_ root: hid_t) -> Void) -> String {
        let path = temporaryPath("crafted.h5")
        let file = H5Fcreate(path, lrt_H5F_ACC_TRUNC(), lrt_H5P_DEFAULT(), lrt_H5P_DEFAULT())
        precondition(file >= 0, "cannot create \(path)")
        body(file)
        H5Fclose(file)
        return path
    }

    /// Writes attribute `name` on `object` with the given type, dimensions (`[]` = scalar)
    /// and raw bytes.
    private func writeAttribute(_ object: hid_t, _ name: String, type: hid_t, dimensions: [hsize_t], bytes: UnsafeRawPointer) {
        let space = dimensions.isEmpty ? H5Screate(H5S_SCALAR) : H5Screate_simple(Int32(dimensions.count), dimensions, nil)
        let attribute = H5Acreate2(object, name, type, space, lrt_H5P_DEFAULT(), lrt_H5P_DEFAULT())
        precondition(H5Awrite(attribute, type, bytes) >= 0, "cannot write \(name)")
        H5Aclose(attribute)
        H5Sclose(space)
    }

    /// A fixed-length string type of `size` bytes.
    private func fixedStringType(size: Int, padding: H5T_str_t, characterSet: H5T_cset_t = H5T_CSET_ASCII) -> hid_t {
        let type = H5Tcopy(lrt_H5T_C_S1())
        H5Tset_size(type, size)
        H5Tset_strpad(type, padding)
        H5Tset_cset(type, characterSet)
        return type
    }

    /// A dataset with `dimensions` and no data written (storage is allocated lazily).
    private func createDataset(_ file: hid_t, _ name: String, type: hid_t, dimensions: [hsize_t]) {
        let space = H5Screate_simple(Int32(dimensions.count), dimensions, nil)
        H5Dclose(H5Dcreate2(file, name, type, space, lrt_H5P_DEFAULT(), lrt_H5P_DEFAULT(), lrt_H5P_DEFAULT()))
        H5Sclose(space)
    }

    func testFixedLengthStringAttributesAreReadWithEachPadding() throws {
        let path = craftFile { file in
            let nullTerminated = fixedStringType(size: 8, padding: H5T_STR_NULLTERM, characterSet: H5T_CSET_UTF8)
            writeAttribute(file, "null_terminated", type: nullTerminated, dimensions: [], bytes: "relu\0\0\0\0")
            writeAttribute(file, "names", type: nullTerminated, dimensions: [3], bytes: "dense\0\0\0conv2d\0\0ünï\0\0\0")
            let nullPadded = fixedStringType(size: 6, padding: H5T_STR_NULLPAD)
            writeAttribute(file, "null_padded", type: nullPadded, dimensions: [1], bytes: "adam\0\0")
            let spacePadded = fixedStringType(size: 6, padding: H5T_STR_SPACEPAD)
            writeAttribute(file, "space_padded", type: spacePadded, dimensions: [], bytes: "sgd   ")
            [nullTerminated, nullPadded, spacePadded].forEach { H5Tclose($0) }
        }
        let root = try HDF5File.openForReading(atPath: path).root
        XCTAssertEqual(try root.stringAttribute("null_terminated"), "relu")
        XCTAssertEqual(try root.stringArrayAttribute("names"), ["dense", "conv2d", "ünï"])
        XCTAssertEqual(try root.stringAttribute("null_padded"), "adam")
        XCTAssertEqual(try root.stringAttribute("space_padded"), "sgd")
    }

    func testInvalidUTF8IsAnErrorForFixedAndVariableLengthStrings() throws {
        let path = craftFile { file in
            let fixed = fixedStringType(size: 2, padding: H5T_STR_NULLPAD)
            writeAttribute(file, "fixed", type: fixed, dimensions: [], bytes: [UInt8]([0xC3, 0x28]))
            H5Tclose(fixed)
            let variable = H5Tcopy(lrt_H5T_C_S1())
            H5Tset_size(variable, lrt_H5T_VARIABLE())
            let bytes: [CChar] = [CChar(bitPattern: 0xFF), CChar(bitPattern: 0xFE), 0]
            bytes.withUnsafeBufferPointer { buffer in
                var pointer: UnsafePointer<CChar>? = buffer.baseAddress
                writeAttribute(file, "variable", type: variable, dimensions: [], bytes: &pointer)
            }
            H5Tclose(variable)
        }
        let root = try HDF5File.openForReading(atPath: path).root
        assertHDF5Error(try root.stringAttribute("fixed"), kind: .invalidContent, mentions: ["/@fixed", "not valid UTF-8"])
        assertHDF5Error(try root.stringAttribute("variable"), kind: .invalidContent, mentions: ["/@variable", "not valid UTF-8"])
    }

    func testUnsupportedTypesAndOversizedShapesAreRefusedNamingPathAndStoredType() throws {
        let path = craftFile { file in
            let compound = H5Tcreate(H5T_COMPOUND, 8)
            H5Tinsert(compound, "real", 0, lrt_H5T_IEEE_F32LE())
            H5Tinsert(compound, "imaginary", 4, lrt_H5T_IEEE_F32LE())
            createDataset(file, "complex", type: compound, dimensions: [2])
            H5Tclose(compound)
            let string = fixedStringType(size: 4, padding: H5T_STR_NULLPAD)
            createDataset(file, "words", type: string, dimensions: [3])
            H5Tclose(string)
            createDataset(file, "rank9", type: lrt_H5T_IEEE_F32LE(), dimensions: [hsize_t](repeating: 1, count: 9))
            createDataset(file, "huge", type: lrt_H5T_IEEE_F32LE(), dimensions: [1 << 20, 1 << 12])
            createDataset(file, "zero_by_huge", type: lrt_H5T_IEEE_F32LE(), dimensions: [0, 1 << 40])
            let null = H5Screate(H5S_NULL)
            H5Aclose(H5Acreate2(file, "null", lrt_H5T_NATIVE_INT64(), null, lrt_H5P_DEFAULT(), lrt_H5P_DEFAULT()))
            H5Sclose(null)
            var pair: [Int64] = [1, 2]
            writeAttribute(file, "pair", type: lrt_H5T_NATIVE_INT64(), dimensions: [2], bytes: &pair)
            writeAttribute(file, "matrix", type: lrt_H5T_NATIVE_INT64(), dimensions: [1, 2], bytes: &pair)
        }
        let root = try HDF5File.openForReading(atPath: path).root
        assertHDF5Error(try root.readFloats("complex"), kind: .wrongType, mentions: [path, "/complex", "compound"])
        assertHDF5Error(try root.readFloats("words"), kind: .wrongType, mentions: ["/words", "fixed-length string of 4 bytes"])
        assertHDF5Error(try root.readFloats("rank9"), kind: .invalidContent, mentions: ["/rank9", "rank 9"])
        assertHDF5Error(try root.datasetShape("huge"), kind: .invalidContent, mentions: ["/huge", "2^31"])
        assertHDF5Error(try root.readFloats("zero_by_huge"), kind: .invalidContent, mentions: ["/zero_by_huge", "2^31"])
        assertHDF5Error(try root.int64Attribute("null"), kind: .invalidContent, mentions: ["/@null", "null dataspace"])
        assertHDF5Error(try root.int64Attribute("pair"), kind: .wrongType, mentions: ["/@pair", "2 values"])
        assertHDF5Error(try root.stringArrayAttribute("pair"), kind: .wrongType, mentions: ["/@pair", "64-bit integer"])
        assertHDF5Error(try root.stringArrayAttribute("matrix"), kind: .wrongType, mentions: ["/@matrix", "[1, 2]"])
    }
}
