import LRTLayers
import XCTest

/// JSON from files is read as Keras (Python's json) would read it, or refused: repeated keys
/// and text that is not UTF-8 are errors naming the offset.
final class JSONTests: XCTestCase {
    /// Python takes the last of repeated keys and this parser would take the first: both refused.
    func testRepeatedKeysAreRefused() throws {
        XCTAssertThrowsError(try JSONValue.parse(#"{"units": 3, "activation": "relu", "units": 5}"#)) { error in
            let error = error as? JSONError
            XCTAssertEqual(error?.offset, 35)
            XCTAssert(error?.description.contains(#""units" appears twice"#) == true, "\(String(describing: error))")
        }
        XCTAssertThrowsError(try JSONValue.parse(#"[{"a": {"b": 1, "b": 2}}]"#))
        // The same key in different objects is fine.
        XCTAssertEqual(try JSONValue.parse(#"[{"a": 1}, {"a": 2}]"#).arrayValue?.count, 2)
        XCTAssertEqual(try JSONValue.parse(#"{"a": {"a": 1}}"#)["a"]?["a"], .number(1))
    }

    /// UTF-8 (with or without a byte-order mark) decodes; Latin-1 and UTF-16 are refused naming the byte.
    func testOnlyUTF8TextIsDecoded() throws {
        XCTAssertEqual(try JSONValue.decodeUTF8(Array(#"{"name": "café"}"#.utf8)), #"{"name": "café"}"#)
        XCTAssertEqual(try JSONValue.decodeUTF8([0xEF, 0xBB, 0xBF] + Array("{}".utf8)), "{}")
        let latin1: [UInt8] = Array(#"{"name": "caf"#.utf8) + [0xE9] + Array(#""}"#.utf8)
        XCTAssertThrowsError(try JSONValue.decodeUTF8(latin1)) { error in
            XCTAssertEqual((error as? JSONError)?.offset, 13)
            XCTAssert("\(error)".contains("0xE9") && "\(error)".contains("save the file as UTF-8"), "\(error)")
        }
        XCTAssertThrowsError(try JSONValue.decodeUTF8([0xFF, 0xFE, 0x7B, 0x00, 0x7D, 0x00])) { error in
            XCTAssert("\(error)".contains("UTF-16"), "\(error)")
        }
    }
}
