import XCTest
@testable import LRTTraining

/// The classification report's numbers on a hand-made confusion matrix, worked out by hand with scikit-learn's
/// formulas (`classification_report(y_true, y_pred, zero_division=0)`).
final class EvaluationTests: XCTestCase {
    /// True a: a a a b; true b: b c; true c: c a a. Class d has no images and no predictions.
    ///
    ///            a  b  c  d      precision  recall  f1
    ///     a      3  1  0  0      3/5        3/4     2/3
    ///     b      0  1  1  0      1/2        1/2     1/2
    ///     c      2  0  1  0      1/2        1/3     2/5
    ///     d      0  0  0  0      (left out of the macro average)
    func testPrecisionRecallF1AndAveragesOfAHandMadeMatrix() {
        let labels = [0, 0, 0, 0, 1, 1, 2, 2, 2]
        let predicted = [0, 0, 0, 1, 1, 2, 2, 0, 0]
        let metrics = EvaluationReport.classificationMetrics(labels: labels, predicted: predicted, classNames: ["a", "b", "c", "d"])
        XCTAssertEqual(metrics.confusion, [[3, 1, 0, 0], [0, 1, 1, 0], [2, 0, 1, 0], [0, 0, 0, 0]])
        let expected: [(precision: Double, recall: Double, f1: Double, support: Int)] =
            [(3.0 / 5, 3.0 / 4, 2.0 / 3, 4), (0.5, 0.5, 0.5, 2), (0.5, 1.0 / 3, 0.4, 3), (0, 0, 0, 0)]
        for (row, want) in zip(metrics.perClass, expected) {
            XCTAssertEqual(row.precision, want.precision, accuracy: 1e-12, row.name)
            XCTAssertEqual(row.recall, want.recall, accuracy: 1e-12, row.name)
            XCTAssertEqual(row.f1, want.f1, accuracy: 1e-12, row.name)
            XCTAssertEqual(row.support, want.support, row.name)
        }
        // Macro: the mean over a, b and c (d has neither images nor predictions).
        XCTAssertEqual(metrics.macro.precision, 0.533333333333, accuracy: 1e-9)
        XCTAssertEqual(metrics.macro.recall, 0.527777777778, accuracy: 1e-9)
        XCTAssertEqual(metrics.macro.f1, 0.522222222222, accuracy: 1e-9)
        // Weighted by support 4, 2, 3: precision 4.9/9, recall 5/9 (the accuracy), F1 (8/3 + 1 + 1.2)/9.
        XCTAssertEqual(metrics.weighted.precision, 0.544444444444, accuracy: 1e-9)
        XCTAssertEqual(metrics.weighted.recall, 5.0 / 9, accuracy: 1e-12)
        XCTAssertEqual(metrics.weighted.f1, 0.540740740741, accuracy: 1e-9)
        XCTAssertEqual(metrics.macro.support, 9)
    }

    /// A class that is predicted but has no images counts in the macro average (precision 0, recall 0), as
    /// scikit-learn's default labels (those in y_true or y_pred) do.
    func testAPredictedClassWithoutImagesCountsInTheMacroAverage() {
        let metrics = EvaluationReport.classificationMetrics(labels: [0, 0, 1], predicted: [0, 2, 1], classNames: ["a", "b", "c"])
        // a: precision 1, recall 1/2, f1 2/3; b: 1, 1, 1; c: 0, 0, 0.
        XCTAssertEqual(metrics.macro.precision, 2.0 / 3, accuracy: 1e-12)
        XCTAssertEqual(metrics.macro.recall, 0.5, accuracy: 1e-12)
        XCTAssertEqual(metrics.macro.f1, (2.0 / 3 + 1) / 3, accuracy: 1e-12)
        XCTAssertEqual(metrics.weighted.f1, (2.0 / 3 * 2 + 1) / 3, accuracy: 1e-12)
    }
}
